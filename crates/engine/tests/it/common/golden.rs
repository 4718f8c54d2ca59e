//! Comparing our formatting with CPython's golden outputs.

use serde_json::Value as J;

/// The little-endian bytes of `x` in hex: how a float crosses to Python exactly.
pub fn float_hex(x: f64) -> String {
    x.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares results with CPython's (`{"ok": text}` or an error object with an optional
/// `"msg"`): errors must be errors on both sides, with the same text where `exact_errors`.
/// `inputs` label the cases in the failure report.
pub fn compare(
    what: &str,
    inputs: &[String],
    ours: &[Result<String, String>],
    theirs: &[J],
    exact_errors: bool,
) {
    assert_eq!(ours.len(), theirs.len(), "{what}: result counts");
    let mut failures = Vec::new();
    for ((input, o), t) in inputs.iter().zip(ours).zip(theirs) {
        match (o, t.get("ok")) {
            (Ok(o), Some(J::String(t))) if o == t => {}
            (Err(e), None) => {
                let msg = t["msg"].as_str().unwrap_or("");
                if exact_errors && e != msg {
                    failures.push(format!("{input}: error text: ours {e:?}, python {msg:?}"));
                }
            }
            _ => failures.push(format!("{input}: ours {o:?}, python {t}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} differ:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    eprintln!("{what}: {} golden cases match", inputs.len());
}
