//! Integer arithmetic in fileConfig `args` (`10*1024*1024`), checked against python3's `eval`.

use logwire_config::pyliteral::{PyLiteral, parse_literal};

#[test]
fn sizes_written_as_products_parse() {
    let v = parse_literal("('app.log', 'a', 10*1024*1024, 5)").unwrap();
    assert_eq!(
        v,
        PyLiteral::Tuple(vec![
            PyLiteral::Str("app.log".into()),
            PyLiteral::Str("a".into()),
            PyLiteral::Int(10 * 1024 * 1024),
            PyLiteral::Int(5),
        ])
    );
}

#[test]
fn precedence_and_signs_match_python() {
    let cases = [
        "1+2*3",
        "2*3+1",
        "-2*3",
        "2*-3",
        "10-4-3",
        "1 - -1",
        "7*0",
        "-(3)*2",
        "1+2*3-4*5",
    ];
    let script = format!("for c in {cases:?}: print(eval(c))");
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    let want: Vec<i64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    for (c, w) in cases.iter().zip(want) {
        assert_eq!(parse_literal(c).unwrap(), PyLiteral::Int(w), "{c}");
    }
}

#[test]
fn only_integers_and_no_overflow() {
    for bad in [
        "'a'*3",
        "'a'+'b'",
        "1.5*2",
        "2**10",
        "9223372036854775807+1",
        "(1,)*2",
        "[1]+[2]",
    ] {
        let e = parse_literal(bad).unwrap_err().to_string();
        assert!(
            e.contains("operator") || e.contains("overflow"),
            "{bad}: {e}"
        );
    }
}
