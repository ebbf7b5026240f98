//! `marquee user add`.

use super::app;
use marquee_domain::{validate, Clock, Plan, Role, SystemClock};
use marquee_store::NewAccount;
use std::path::Path;

/// Account commands.
#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account (e.g. a staff member).
    Add {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// viewer, agent or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// basic, standard or premium.
        #[arg(long, default_value = "standard")]
        plan: String,
        /// The password; when omitted a one-time password is generated and
        /// printed, to be changed at first log-in.
        #[arg(long, env = "MARQUEE_NEW_USER_PASSWORD")]
        password: Option<String>,
    },
}

/// Runs the command.
pub fn run(file: Option<&Path>, cmd: &UserCommand) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    app::init_logging(&config);
    match cmd {
        UserCommand::Add {
            email,
            role,
            plan,
            password,
        } => app::block_on(async {
            let email = validate::email(email)?;
            let role: Role = role.parse()?;
            let plan: Plan = plan.parse()?;
            let (password, one_time) = match password {
                Some(p) => {
                    validate::password(p)?;
                    (p.clone(), false)
                }
                None => (marquee_server::auth::random_token()[..20].to_string(), true),
            };
            let store = app::open_store(&config).await?;
            let hash = marquee_server::auth::hash_password(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let first_profile =
                validate::profile_name(email.split('@').next().unwrap_or("Me"), role.is_staff())
                    .unwrap_or_else(|_| "Me".into());
            let account = store
                .create_account(
                    &NewAccount {
                        email: email.clone(),
                        password_hash: hash,
                        role,
                        plan,
                        must_change_password: one_time,
                        first_profile,
                        email_verified: true,
                    },
                    SystemClock.now_ms(),
                )
                .await
                .map_err(|e| match e {
                    marquee_store::StoreError::Conflict { .. } => {
                        anyhow::anyhow!("an account with e-mail {email} already exists")
                    }
                    other => other.into(),
                })?;
            println!(
                "created {} account {} (id {})",
                role.as_str(),
                account.email,
                account.id
            );
            if one_time {
                println!("one-time password: {password}  (must be changed at first log-in)");
            }
            Ok(())
        }),
    }
}
