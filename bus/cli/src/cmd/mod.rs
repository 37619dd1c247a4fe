//! One module per subcommand.

pub mod call;
pub mod doctor;
pub mod echo;
pub mod foxglove;
pub mod nodes;
pub mod publish;
pub mod rate;
pub mod record;
pub mod replay;
pub mod schema;
pub mod topics;
