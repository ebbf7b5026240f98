//! The tiny random checkpoint of `marquee-testkit`, and an encoder of it.

pub use marquee_testkit::tiny_encoder::*;

pub fn encoder(spec: &Spec) -> marquee_encoder::Encoder {
    marquee_encoder::Encoder::from_bytes(&config_json(spec), &tokenizer_json(), &weights(spec))
        .unwrap()
}
