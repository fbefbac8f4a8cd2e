//! The bundled example platform (`examples/platform/`), built into the binary so that
//! `switchyard up` serves it from any directory, on a machine with nothing else.

use switchyard_api::SourceText;

/// Each manifest file of the bundled platform, by its path in the repository.
const FILES: &[(&str, &str)] = &[
    (
        "examples/platform/eventbus.yaml",
        include_str!("../../../examples/platform/eventbus.yaml"),
    ),
    (
        "examples/platform/eventsource.yaml",
        include_str!("../../../examples/platform/eventsource.yaml"),
    ),
    (
        "examples/platform/environment.yaml",
        include_str!("../../../examples/platform/environment.yaml"),
    ),
    (
        "examples/platform/application.yaml",
        include_str!("../../../examples/platform/application.yaml"),
    ),
    (
        "examples/platform/configuration.yaml",
        include_str!("../../../examples/platform/configuration.yaml"),
    ),
    (
        "examples/platform/sensors.yaml",
        include_str!("../../../examples/platform/sensors.yaml"),
    ),
    (
        "examples/platform/offerings.yaml",
        include_str!("../../../examples/platform/offerings.yaml"),
    ),
];

/// The bundled platform's manifests, ready for `apply`.
pub fn bundled() -> Vec<SourceText> {
    FILES
        .iter()
        .map(|(name, content)| SourceText {
            name: (*name).to_owned(),
            content: (*content).to_owned(),
        })
        .collect()
}
