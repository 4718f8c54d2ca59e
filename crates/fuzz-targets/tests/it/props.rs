//! Proptest mirrors of the fuzz targets: random bytes, and inputs built from each format's
//! own tokens (which random bytes rarely hit), through the same target functions.

use logwire_fuzz_targets as targets;
use logwire_pickle::PickleValue;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of `tokens`, which random bytes would take long to assemble.
fn token_text(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|t| t.concat().into_bytes())
}

fn pickle_value() -> impl Strategy<Value = PickleValue> {
    let leaf = prop_oneof![
        Just(PickleValue::None),
        any::<bool>().prop_map(PickleValue::Bool),
        any::<i64>().prop_map(PickleValue::Int),
        any::<f64>().prop_map(PickleValue::Float),
        ".{0,20}".prop_map(PickleValue::Str),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(PickleValue::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::List),
            prop::collection::vec(inner.clone(), 0..8).prop_map(PickleValue::Tuple),
            prop::collection::vec((".{0,8}".prop_map(PickleValue::Str), inner), 0..8)
                .prop_map(PickleValue::Dict),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_target_takes_random_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        for (_, target) in targets::TARGETS {
            target(&data);
        }
    }

    #[test]
    fn frame_decoder_takes_framed_streams(
        cap in any::<u8>(),
        split in any::<u8>(),
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..6),
        cut in any::<usize>(),
    ) {
        let mut data = vec![cap, split];
        for b in &bodies {
            data.extend_from_slice(&(b.len() as u32).to_be_bytes());
            data.extend_from_slice(b);
        }
        let keep = 2 + cut % (data.len() - 1);
        data.truncate(keep.max(2));
        targets::frame_decoder(&data);
    }

    #[test]
    fn pickle_targets_take_encoded_values(v in pickle_value(), flip in any::<(usize, u8)>()) {
        let mut bytes = logwire_pickle::encode_protocol1(&v).expect("encodable");
        targets::pickle_decoder(&bytes);
        targets::record_map(&bytes);
        let at = flip.0 % bytes.len();
        bytes[at] ^= flip.1;
        targets::pickle_decoder(&bytes);
        targets::record_map(&bytes);
    }

    #[test]
    fn envelope_targets_sign_random_fields(data in prop::collection::vec(any::<u8>(), 1..300)) {
        let mut signed = data.clone();
        signed[0] |= 1;
        targets::config_envelope(&signed);
        targets::record_envelope(&signed);
    }

    #[test]
    fn config_front_ends_take_config_tokens(data in token_text(&[
        "{", "}", "[", "]", ":", ",", "\"version\"", "1", "\"handlers\"", "\"h\"", "\"class\"",
        "\"logging.StreamHandler\"", "\"root\"", "\"level\"", "\"INFO\"", "\"()\"", "\"formatters\"",
        "\"format\"", "\"%(message)s\"", "\n", "[loggers]", "keys=root", "[handlers]", "keys=h",
        "[handler_h]", "class=StreamHandler", "args=(sys.stdout,)", "[logger_root]", "handlers=h",
        "version: 1", "root:", "  level: INFO", "&a", "*a", "version = 1", "[root]", "level = \"INFO\"",
    ])) {
        targets::config_json(&data);
        targets::config_yaml(&data);
        targets::config_toml(&data);
        targets::config_ini(&data);
    }

    #[test]
    fn py_literal_takes_literal_tokens(data in token_text(&[
        "(", ")", "[", "]", "{", "}", ",", ":", "'a'", "b'\\x00'", "r'\\d'", "1", "-", "+", "*",
        "0x_ff", "1e308", "None", "True", "sys.stdout", "handlers.DEFAULT_TCP_LOGGING_PORT",
        "__import__", ".", "\\\n", "#c\n", "'''", "\"", " ",
    ])) {
        targets::py_literal(&data);
    }

    #[test]
    fn format_targets_take_format_tokens(flags in any::<u8>(), data in token_text(&[
        "%", "(", ")", "message", "asctime", "name", "s", "d", "r", "f", "-8", "099", ".4096",
        "*", "{", "}", "!r", ":>", "$", "${", "levelname", "%%", "%Y", "%-d", "%_10H", "%c",
        "\u{ff}", "custom", "a", " ",
    ])) {
        let mut input = vec![flags];
        input.extend_from_slice(&data);
        targets::format_string(&input);
        targets::strftime(&input);
    }
}
