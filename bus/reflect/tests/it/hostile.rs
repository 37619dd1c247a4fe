//! Hostile input: truncated, flipped and crafted payloads and schemas produce errors, never
//! panics, hangs or unbounded work.

use serde_json::{Value, json};
use vbus::flatbuffers::{FlatBufferBuilder, WIPOffset};
use vbus_reflect::{
    Limits, Schema, decode_to_json, decode_to_json_with, encode_from_json, scalar_at, verify,
};

use crate::*;

const PATHS: &[&str] = &[
    "i8",
    "u64",
    "f32",
    "pose.corners[1].z",
    "leaves[1].value",
    "tree.children[1].leaf.id",
    "payload.name",
    "ints[2]",
];

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Decode and probe `bytes` every way there is; if it decodes, the JSON must encode again and
/// decode to the same JSON.
fn probe(s: &Schema, bytes: &[u8]) -> bool {
    for p in PATHS {
        let _ = scalar_at(s, EVERYTHING, bytes, p);
    }
    match decode_to_json(s, EVERYTHING, bytes) {
        Ok(v) => {
            // Decoded JSON encodes back to the same JSON, unless corruption produced a union
            // member number the schema does not know (decoded as a number, with no value).
            match encode_from_json(s, EVERYTHING, &v) {
                Ok(again) => assert_eq!(decode_to_json(s, EVERYTHING, &again).unwrap(), v),
                Err(e) => assert!(e.to_string().contains("union"), "{e}"),
            }
            true
        }
        Err(e) => {
            assert!(e.to_string().starts_with("payload is not a valid test.all.Everything: at $"), "{e}");
            false
        }
    }
}

#[test]
fn every_truncation_is_refused() {
    let s = everything();
    for name in ["full.bin", "minimal.bin"] {
        let b = data(name);
        let whole = decode_to_json(&s, EVERYTHING, &b).unwrap();
        let mut refused = 0;
        for len in 0..b.len() {
            // Only trailing padding can go without changing the message.
            if probe(&s, &b[..len]) {
                assert_eq!(decode_to_json(&s, EVERYTHING, &b[..len]).unwrap(), whole, "{name} cut to {len}");
                assert!(len + 8 > b.len(), "{name} cut to {len} of {} decoded", b.len());
            } else {
                refused += 1;
            }
        }
        assert!(refused + 8 > b.len());
    }
}

#[test]
fn random_corruption_never_panics() {
    let s = everything();
    let b = data("full.bin");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..4000 {
        let mut m = b.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % m.len();
            m[i] ^= 1 << (rng.next() % 8);
        }
        if probe(&s, &m) { ok += 1 } else { refused += 1 }
    }
    // Both happen: flips in scalar data decode, flips in offsets do not.
    assert!(ok > 100 && refused > 100, "ok {ok} refused {refused}");
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle")
}

fn refusal(s: &Schema, bytes: &[u8]) -> String {
    decode_to_json(s, EVERYTHING, bytes).unwrap_err().to_string()
}

#[test]
fn crafted_payloads_are_refused_with_where_and_why() {
    let s = everything();
    let good = encode_from_json(&s, EVERYTHING, &json!({"name": "abc", "ints": [7, 8]})).unwrap();
    let at = find(&good, b"abc\0");
    let mut m = good.clone();
    m[at + 2] = 0xff;
    let e = refusal(&s, &m);
    assert!(e.contains("at $.name: Utf8 error"), "{e}");
    let mut m = good.clone();
    m[at + 3] = b'!';
    let e = refusal(&s, &m);
    assert!(e.contains("at $.name: String in range") && e.contains("missing its null terminator"), "{e}");
    let mut m = good.clone();
    let ints = find(&good, &[2, 0, 0, 0]);
    m[ints..ints + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let e = refusal(&s, &m);
    assert!(e.contains("at $.ints: Range") && e.contains("out of bounds"), "{e}");
    let mut m = good.clone();
    m[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(refusal(&s, &m).contains("at $: "), "{}", refusal(&s, &m));
    // The root table's vtable offset pointing outside the buffer.
    let mut m = good.clone();
    let root = u32::from_le_bytes(good[0..4].try_into().unwrap()) as usize;
    m[root..root + 4].copy_from_slice(&(-100_000i32).to_le_bytes());
    assert!(refusal(&s, &m).contains("Signed offset"), "{}", refusal(&s, &m));
    for tiny in [&[][..], &[0], &[4, 0, 0], &[4, 0, 0, 0]] {
        assert!(!probe(&s, tiny));
    }
    assert!(verify(&s, EVERYTHING, &good).is_ok());
}

#[test]
fn unions_with_unknown_members_or_missing_values() {
    let s = everything();
    let e = s.object(EVERYTHING).unwrap();
    let type_slot = e.field("payload_type").unwrap().offset;
    let value_slot = e.field("payload").unwrap().offset;
    let name_slot = e.field("name").unwrap().offset;
    let build = |kind: Option<u8>, with_value: bool| {
        let mut fbb = FlatBufferBuilder::new();
        let name = fbb.create_string("u");
        let text = fbb.create_string("member");
        let t = fbb.start_table();
        fbb.push_slot_always(name_slot, name);
        if with_value {
            fbb.push_slot_always(value_slot, text);
        }
        if let Some(k) = kind {
            fbb.push_slot_always(type_slot, k);
        }
        let root = fbb.end_table(t);
        fbb.finish_minimal(root);
        fbb.finished_data().to_vec()
    };
    // A member number this schema does not know (a newer writer): accepted, value skipped.
    let v = decode_to_json(&s, EVERYTHING, &build(Some(200), true)).unwrap();
    assert_eq!((v["payload_type"].clone(), v.get("payload")), (json!(200), None));
    // A value with discriminant NONE: refused.
    let e = refusal(&s, &build(None, true));
    assert!(e.contains("at $.payload: union value present but `payload_type` is NONE"), "{e}");
    // The Text member (a string) decodes.
    assert_eq!(decode_to_json(&s, EVERYTHING, &build(Some(4), true)).unwrap()["payload"], json!("member"));
    // A discriminant without value decodes as the discriminant alone.
    let v = decode_to_json(&s, EVERYTHING, &build(Some(4), false)).unwrap();
    assert_eq!((v["payload_type"].clone(), v.get("payload")), (json!("Text"), None));
}

#[test]
fn depth_is_bounded() {
    let s = everything();
    let mut tree = json!({"name": "leaf"});
    for i in 0..100 {
        tree = json!({"name": format!("n{i}"), "children": [tree]});
    }
    let bytes = encode_from_json(&s, EVERYTHING, &json!({"name": "", "tree": tree})).unwrap();
    let e = refusal(&s, &bytes);
    assert!(e.contains("at $.tree.children[0].children[0]") && e.contains("depth limit"), "{e}");
    let deep = Limits { max_depth: 200, ..Limits::default() };
    let v = decode_to_json_with(&s, EVERYTHING, &bytes, &deep).unwrap();
    assert_eq!(v["tree"]["children"][0]["name"], json!("n98"));
    // scalar_at walks any depth without recursion.
    let path = format!("tree{}.leaf.id", ".children[0]".repeat(101));
    assert_eq!(scalar_at(&s, EVERYTHING, &bytes, &path), None);
}

#[test]
fn shared_subtrees_cannot_blow_up() {
    let s = everything();
    let e = s.object(EVERYTHING).unwrap();
    let tree = s.object("test.all.Tree").unwrap();
    let (name_slot, children_slot) =
        (tree.field("name").unwrap().offset, tree.field("children").unwrap().offset);
    // Each level is a vector of `fanout` offsets to the same child: the buffer is tiny, the
    // tree it describes has fanout^levels nodes.
    let bomb = |fanout: usize, levels: usize| {
        let mut fbb = FlatBufferBuilder::new();
        let name = fbb.create_string("x");
        let t = fbb.start_table();
        fbb.push_slot_always(name_slot, name);
        let mut node: WIPOffset<_> = fbb.end_table(t);
        for _ in 0..levels {
            let v = fbb.create_vector(&vec![node; fanout]);
            let t = fbb.start_table();
            fbb.push_slot_always(children_slot, v);
            node = fbb.end_table(t);
        }
        let empty = fbb.create_string("");
        let t = fbb.start_table();
        fbb.push_slot_always(e.field("name").unwrap().offset, empty);
        fbb.push_slot_always(e.field("tree").unwrap().offset, node);
        let root = fbb.end_table(t);
        fbb.finish_minimal(root);
        fbb.finished_data().to_vec()
    };
    let small = bomb(3, 3);
    let v = decode_to_json(&s, EVERYTHING, &small).unwrap();
    assert_eq!(v["tree"]["children"][2]["children"][2]["children"][2]["name"], json!("x"));
    let big = bomb(100, 4); // 10^8 nodes described in about 2 KB
    assert!(big.len() < 4096);
    let tight = Limits { max_tables: 10_000, ..Limits::default() };
    let e = decode_to_json_with(&s, EVERYTHING, &big, &tight).unwrap_err().to_string();
    assert!(e.contains("Too many tables"), "{e}");
    // The default limits (the bus receivers') stop it too.
    let e = refusal(&s, &big);
    assert!(e.contains("Too many tables") || e.contains("Apparent size"), "{e}");
}

fn reflection() -> Schema {
    Schema::from_bfbs(&data("reflection.bfbs")).expect("reflection.bfbs parses")
}

/// `everything.bfbs` as JSON, through the reflection schema.
fn everything_as_json() -> Value {
    decode_to_json(&reflection(), "reflection.Schema", &data("everything.bfbs")).unwrap()
}

fn rebuild(j: &Value) -> Result<Schema, vbus_reflect::Error> {
    Schema::from_bfbs(&encode_from_json(&reflection(), "reflection.Schema", j).unwrap())
}

fn object<'a>(j: &'a mut Value, name: &str) -> &'a mut Value {
    j["objects"].as_array_mut().unwrap().iter_mut().find(|o| o["name"] == json!(name)).unwrap()
}

fn field<'a>(o: &'a mut Value, name: &str) -> &'a mut Value {
    o["fields"].as_array_mut().unwrap().iter_mut().find(|f| f["name"] == json!(name)).unwrap()
}

#[test]
fn a_schema_rebuilt_from_its_json_works_the_same() {
    let j = everything_as_json();
    let s = rebuild(&j).unwrap();
    let original = everything();
    assert_eq!(
        decode_to_json(&s, EVERYTHING, &data("full.bin")).unwrap(),
        decode_to_json(&original, EVERYTHING, &data("full.bin")).unwrap()
    );
    assert_eq!(s.type_hash(EVERYTHING), original.type_hash(EVERYTHING));
}

#[test]
fn crafted_schemas_are_refused() {
    let vec3 = everything_as_json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o["name"] == json!("test.all.Vec3"))
        .unwrap();
    let expect = |mutate: &dyn Fn(&mut Value), msg: &str| {
        let mut j = everything_as_json();
        mutate(&mut j);
        let e = rebuild(&j).unwrap_err().to_string();
        assert!(e.starts_with("invalid schema: ") && e.contains(msg), "expected `{msg}` in: {e}");
    };
    expect(
        &|j| {
            let v = object(j, "test.all.Vec3");
            v["fields"].as_array_mut().unwrap().push(
                json!({"name": "me", "type": {"base_type": "Obj", "index": vec3}, "id": 3, "offset": 0}),
            );
        },
        "contains itself",
    );
    expect(
        &|j| field(object(j, EVERYTHING), "tree")["type"]["index"] = json!(999),
        "is not valid in a table",
    );
    expect(&|j| field(object(j, "test.all.Pose"), "heading")["offset"] = json!(250), "overruns the struct");
    expect(&|j| object(j, "test.all.Vec3")["bytesize"] = json!(0), "are not valid");
    expect(&|j| field(object(j, EVERYTHING), "i8")["offset"] = json!(3), "is not a valid slot");
    expect(
        &|j| {
            let o = object(j, EVERYTHING);
            o["fields"].as_array_mut().unwrap().retain(|f| f["name"] != json!("payload_type"));
        },
        "union field without its `payload_type` discriminant",
    );
    expect(
        &|j| {
            let e = j["enums"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|e| e["name"] == json!("test.all.Color"))
                .unwrap();
            e["underlying_type"]["base_type"] = json!("String");
        },
        "is not an integer",
    );
    expect(
        &|j| field(object(j, EVERYTHING), "strings")["type"]["element"] = json!("Vector"),
        "is not valid in a table",
    );
}

#[test]
fn damaged_schemas_never_panic() {
    let bfbs = data("everything.bfbs");
    let full = data("full.bin");
    let input = json("full.json");
    for len in 0..bfbs.len() {
        // Cutting off the trailing padding leaves a valid schema; anything else must not panic.
        let _ = Schema::from_bfbs(&bfbs[..len]);
    }
    assert!(Schema::from_bfbs(&bfbs[..bfbs.len() / 2]).is_err());
    let mut rng = Rng(42);
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut m = bfbs.clone();
        let i = (rng.next() as usize) % m.len();
        m[i] ^= 1 << (rng.next() % 8);
        if let Ok(s) = Schema::from_bfbs(&m) {
            parsed += 1;
            // Whatever the schema now says, using it must not panic.
            let _ = decode_to_json(&s, EVERYTHING, &full);
            let _ = encode_from_json(&s, EVERYTHING, &input);
            let _ = s.type_hash(EVERYTHING);
            for p in PATHS {
                let _ = scalar_at(&s, EVERYTHING, &full, p);
            }
        }
    }
    assert!(parsed > 100, "{parsed}");
}
