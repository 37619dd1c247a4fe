//! Print the FlatBuffers schema of a DBC file: `cargo run -p vbus-dbc --example dbc2fbs -- FILE BUS`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(bus)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: dbc2fbs FILE BUS");
        std::process::exit(2);
    };
    let db = match vbus_dbc::Database::from_file(path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let tables = vbus_dbc::fbs::tables(&db, bus);
    print!("{}", vbus_dbc::fbs::render(&db, &tables));
}
