//! `kuaidi keys`: create, list and revoke API keys in the data directory's store.

use clap::{Args, Subcommand};
use kuaidi_model::Role;
use serde::Serialize;

use crate::output;
use crate::{CliError, Config};

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print only its secret on stdout (it is not stored and cannot be shown again).
    Create(CreateArgs),
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id; it stops working at once.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

/// Arguments of `keys create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// `admin`, `regulator` or `carrier`.
    #[arg(long)]
    role: String,
    /// For a carrier key: the carrier it is bound to.
    #[arg(long)]
    carrier: Option<String>,
    /// For a regulator key: division codes, comma-separated (a province code covers the province).
    #[arg(long, value_delimiter = ',')]
    jurisdiction: Vec<String>,
    /// A note on who holds the key.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Serialize)]
struct KeyRow {
    id: String,
    role: &'static str,
    scope: String,
    label: String,
    created_at: String,
    revoked_at: Option<String>,
}

pub fn run(command: KeysCommand, config: &Config) -> Result<(), CliError> {
    match command {
        KeysCommand::Create(args) => {
            let secret = create(config, &args.role, args.carrier.as_deref(), &args.jurisdiction, &args.label)?;
            println!("{secret}");
            Ok(())
        }
        KeysCommand::List => {
            let store = config.open_store()?;
            let keys = kuaidi_store::Store::keys(&*store)?;
            let rows: Vec<KeyRow> = keys
                .into_iter()
                .map(|k| KeyRow {
                    id: k.id,
                    role: k.role.name(),
                    scope: match &k.role {
                        Role::Admin => "everything".into(),
                        Role::Carrier { carrier } => carrier.to_string(),
                        Role::Regulator { jurisdiction } => {
                            jurisdiction.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                        }
                    },
                    label: k.label,
                    created_at: k.created_at.to_rfc3339(),
                    revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
                })
                .collect();
            let table = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.role.to_owned(),
                        r.scope.clone(),
                        r.label.clone(),
                        r.created_at.clone(),
                        r.revoked_at.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::print(config.format, &rows, &["ID", "ROLE", "SCOPE", "LABEL", "CREATED", "REVOKED"], table);
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            let store = config.open_store()?;
            kuaidi_store::Store::revoke_key(&*store, &id, chrono::Utc::now()).map_err(|err| match err.kind() {
                kuaidi_store::ErrorKind::NotFound => {
                    CliError::Input(format!("no key has the id `{id}`\nHint: `kuaidi keys list` shows the ids."))
                }
                _ => CliError::Store(err),
            })?;
            eprintln!("revoked {id}");
            Ok(())
        }
    }
}

/// Creates a key in the configured store and returns its secret.
pub fn create(
    config: &Config,
    role: &str,
    carrier: Option<&str>,
    jurisdiction: &[String],
    label: &str,
) -> Result<String, CliError> {
    let role = Role::from_parts(role, carrier, jurisdiction)
        .map_err(|err| CliError::Input(format!("`--role {role}`: {err}")))?;
    let store = config.open_store()?;
    if let Role::Carrier { carrier } = &role {
        let known = kuaidi_store::Store::carriers(&*store)?.iter().any(|c| &c.code == carrier);
        if !known {
            tracing::warn!(%carrier, "the carrier is not registered yet; the key works once it is");
        }
    }
    let (secret, key) = kuaidi_api::auth::generate_key(role, label, chrono::Utc::now());
    kuaidi_store::Store::create_key(&*store, &key)?;
    Ok(secret)
}
