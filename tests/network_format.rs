//! The network format: JSON architecture + safetensors weights survive a round trip, and every
//! inconsistency is refused with an error that names the file and the node or tensor.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use imcnas::network::Network;
use imcnas::network::arch::Arch;
use imcnas::train::TrainNet;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imcnas-format-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn saved_resnet(name: &str) -> (PathBuf, Network) {
    let device = burn::tensor::Device::flex();
    device.seed(1);
    let graph = Arch::ResNet {
        blocks: 1,
        width: 4,
    }
    .graph([3, 16, 16], 10)
    .unwrap();
    let net = TrainNet::new(&graph, &device).to_network(None).unwrap();
    let dir = scratch(name);
    net.save(&dir).unwrap();
    (dir, net)
}

fn edit_json(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("network.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn load_error(dir: &Path) -> String {
    let e = Network::load(dir).unwrap_err().to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

#[test]
fn round_trip_keeps_graph_and_tensors() {
    let (dir, net) = saved_resnet("roundtrip");
    assert_eq!(Network::load(&dir).unwrap(), net);
}

#[test]
fn malformed_architectures_are_refused() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 8] = [
        (|v| v["format"] = "onnx".into(), "format"),
        (|v| v["nodes"][0]["op"] = "conv3d".into(), "unknown op"),
        (
            |v| v["nodes"][0]["in_features"] = 3.into(),
            "does not apply",
        ),
        (|v| v["nodes"][0]["in_channels"] = 2.into(), "in_channels"),
        (
            |v| v["nodes"][1]["inputs"] = serde_json::json!(["nowhere"]),
            "nowhere",
        ),
        (|v| v["nodes"][1]["name"] = "stem.conv".into(), "unique"),
        (|v| v["classes"] = 7.into(), "class logits"),
        (|v| v["nodes"][0]["kernel"] = 99.into(), "window"),
    ];
    for (i, (edit, expected)) in cases.into_iter().enumerate() {
        let (dir, _) = saved_resnet(&format!("arch{i}"));
        edit_json(&dir, edit);
        let e = load_error(&dir);
        assert!(
            e.contains(expected) && e.contains("network.json"),
            "case {i}: {e}"
        );
    }
    let (dir, _) = saved_resnet("unknown-field");
    edit_json(&dir, |v| v["nodes"][0]["dilation"] = 2.into());
    assert!(load_error(&dir).contains("dilation"));
}

#[test]
fn weights_that_do_not_fit_are_refused() {
    // A weight file of another architecture: tensors missing and of the wrong size.
    let (dir, _) = saved_resnet("other-weights");
    let device = burn::tensor::Device::flex();
    let lenet = Arch::LeNet.graph([1, 28, 28], 10).unwrap();
    let other = TrainNet::new(&lenet, &device).to_network(None).unwrap();
    let other_dir = scratch("lenet-weights");
    other.save(&other_dir).unwrap();
    std::fs::copy(
        other_dir.join("weights.safetensors"),
        dir.join("weights.safetensors"),
    )
    .unwrap();
    let e = load_error(&dir);
    assert!(
        e.contains("weights.safetensors") && e.contains("missing"),
        "{e}"
    );

    // A conv with a wider kernel than its stored weight.
    let (dir, _) = saved_resnet("wrong-size");
    edit_json(&dir, |v| {
        v["nodes"][0]["kernel"] = 5.into();
        v["nodes"][0]["padding"] = 2.into();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("stem.conv.weight") && e.contains("values"),
        "{e}"
    );

    // Truncated and garbage weight files.
    let (dir, _) = saved_resnet("truncated");
    let path = dir.join("weights.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    assert!(load_error(&dir).contains("safetensors"));
    std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\x7fgarbage").unwrap();
    assert!(load_error(&dir).contains("safetensors"));
}
