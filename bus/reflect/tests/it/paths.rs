//! `scalar_at` and `check_path`: one number out of a payload for rule engines.

use vbus_reflect::{check_path, scalar_at};

use crate::*;

#[test]
fn numbers_by_path() {
    let s = everything();
    let full = data("full.bin");
    let min = data("minimal.bin");
    let at = |b: &[u8], p: &str| scalar_at(&s, EVERYTHING, b, p);
    assert_eq!(at(&full, "i8"), Some(-128.0));
    assert_eq!(at(&full, "$.u32"), Some(4294967295.0));
    assert_eq!(at(&full, "u64"), Some(9007199254740993u64 as f64));
    assert_eq!(at(&full, "f32"), Some(f64::from(0.1f32)));
    assert_eq!(at(&full, "b"), Some(0.0));
    assert_eq!(at(&full, "color"), Some(-1.0), "enums read as their value");
    assert_eq!(at(&full, "opt"), Some(0.0));
    assert_eq!(at(&min, "opt"), None, "optional scalar without value");
    assert_eq!(at(&min, "i32"), Some(-32.0), "absent scalar reads its default");
    assert_eq!(at(&min, "b"), Some(1.0));
    assert_eq!(at(&full, "pose.position.y"), Some(2.0));
    assert_eq!(at(&full, "pose.matrix[3]"), Some(-4.0));
    assert_eq!(at(&full, "pose.matrix.3"), Some(-4.0));
    assert_eq!(at(&full, "pose.matrix[4]"), None);
    assert_eq!(at(&full, "pose.corners[1].z"), Some(-3.0));
    assert_eq!(at(&full, "poses[0].heading"), Some(-1.0));
    assert_eq!(at(&full, "leaves[1].value"), Some(1.5));
    assert_eq!(at(&full, "leaves[2].value"), None);
    assert_eq!(at(&full, "ints[2]"), Some(i64::MAX as f64));
    assert_eq!(at(&full, "bytes[3]"), Some(255.0));
    assert_eq!(at(&full, "tree.children[1].leaf.id"), Some(9.0));
    assert_eq!(at(&full, "tree.children[0].leaf.id"), None, "through an absent table");
    assert_eq!(at(&min, "pose.heading"), None, "through an absent struct");
    assert_eq!(at(&full, "tree.name"), None, "a string is not a number");
    assert_eq!(at(&full, "tree"), None);
    assert_eq!(at(&full, "nope"), None);
    assert_eq!(at(&full, "old"), None, "deprecated");
    assert_eq!(at(&full, "i8.x"), None);
    assert_eq!(at(&full, "ints.x"), None);
    assert_eq!(at(&full, ""), None);
    assert_eq!(scalar_at(&s, "test.all.Vec3", &full, "x"), None, "structs are not roots");
    assert_eq!(scalar_at(&s, "nope", &full, "x"), None);
}

#[test]
fn unions_continue_into_their_member() {
    let s = everything();
    let bytes = vbus_reflect::encode_from_json(
        &s,
        EVERYTHING,
        &serde_json::json!({"name": "", "payload_type": "Leaf", "payload": {"id": 77}}),
    )
    .unwrap();
    assert_eq!(scalar_at(&s, EVERYTHING, &bytes, "payload.id"), Some(77.0));
    assert_eq!(scalar_at(&s, EVERYTHING, &bytes, "payload.value"), Some(1.5));
    assert_eq!(scalar_at(&s, EVERYTHING, &bytes, "payload.x"), None, "Vec3Box is not the current member");
    assert_eq!(scalar_at(&s, EVERYTHING, &bytes, "payload_type"), Some(1.0));
}

#[test]
fn paths_are_checked_against_the_schema() {
    let s = everything();
    let ok = |p: &str| check_path(&s, EVERYTHING, p);
    for p in [
        "i8",
        "pose.corners[1].z",
        "leaves[0].value",
        "payload.id",
        "payload.x",
        "tree.children[3].leaf.id",
        "colors[0]",
    ] {
        ok(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    let err = |p: &str| ok(p).unwrap_err().to_string();
    assert_eq!(
        err("pose.positon.x"),
        "$.pose.positon: expected a field of test.all.Pose (position, heading, tag, matrix, corners, color), found unknown field `positon` (did you mean `position`?)"
    );
    assert_eq!(
        err("tree"),
        "$.tree: expected a path that ends at a number, found one that ends at a table, string or vector"
    );
    assert_eq!(
        err("ints.x"),
        "$.ints.x: expected an index `[i]` (this is a vector), found a step that does not exist"
    );
    assert_eq!(
        err("i8[0]"),
        "$.i8[0]: expected a field name (this is not a vector), found a step that does not exist"
    );
    assert!(err("payload.nothing").contains("a field of one of the union's members"));
    assert!(err("a[").contains("a path like"));
}
