//! `apuntador-server ca init|rotate|show`: the device CA in the local data directory or in AWS
//! (Secrets Manager and S3). Reads only the storage variables; prints subjects, key types, dates, pins
//! and locations — never a key.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use apuntador::authority::{self, CaInitArgs, CaInitReport, InitBackend, TRUSTSTORE_BUNDLE_KEY};
use apuntador::config::{Config, StorageConfig, StorageProvider};
use apuntador::pki::ca::{CaCertificate, CertificateAuthority};
use apuntador::startup;
use apuntador::store::aws::AwsStores;
use apuntador::store::aws::secrets_manager::{
    CA_CERTIFICATE_SECRET, CA_PREVIOUS_CERTIFICATE_SECRET, CA_PRIVATE_KEY_SECRET,
};
use apuntador::store::files::{
    CA_CERTIFICATE_FILE, CA_PREVIOUS_CERTIFICATE_FILE, CA_PRIVATE_KEY_FILE, LocalBlobStore,
    LocalSecretStore,
};
use apuntador::store::{BlobStore, CaMaterial, SecretStore};

/// Where each piece of the CA is kept, as printed.
struct Locations {
    backend: String,
    private_key: String,
    certificate: String,
    previous: String,
    truststore: String,
}

/// The stores of the chosen backend and where they keep things.
struct Stores {
    secrets: Arc<dyn SecretStore>,
    blobs: Arc<dyn BlobStore>,
    at: Locations,
}

/// `ca init` / `ca rotate`: creates (or rotates) the CA and publishes the truststore bundle.
pub fn init(args: &CaInitArgs) -> ExitCode {
    let Some((storage, runtime)) = prepare() else {
        return ExitCode::from(2);
    };
    let result = runtime.block_on(async {
        let stores = open(&storage, args.backend, true).await?;
        let report = authority::init_ca(
            stores.secrets.as_ref(),
            stores.blobs.as_ref(),
            args,
            chrono::Utc::now(),
        )
        .await
        .map_err(|err| err.to_string())?;
        Ok::<_, String>((stores.at, report))
    });
    match result {
        Ok((at, report)) => {
            warn_about_replaced(&report);
            print_report(&report, &at);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ca init failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `ca show`: the stored CA, without its key.
pub fn show(backend: Option<InitBackend>) -> ExitCode {
    let Some((storage, runtime)) = prepare() else {
        return ExitCode::from(2);
    };
    let result = runtime.block_on(async {
        let stores = open(&storage, backend, false).await?;
        let material = stores
            .secrets
            .load_ca()
            .await
            .map_err(|err| format!("could not read the CA: {err}"))?;
        Ok::<_, String>((stores.at, material))
    });
    match result {
        Ok((at, Some(material))) => {
            print_material(&material, &at);
            ExitCode::SUCCESS
        }
        Ok((at, None)) => {
            eprintln!(
                "no certificate authority in {}; create one with `apuntador-server ca init`",
                at.backend
            );
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("ca show failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The storage settings and a runtime; `None` once a configuration problem is reported.
fn prepare() -> Option<(StorageConfig, tokio::runtime::Runtime)> {
    let storage = match Config::storage_from_env_with_dotenv(Path::new(".env")) {
        Ok(storage) => storage,
        Err(err) => {
            startup::report_config_error(&err);
            return None;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|err| eprintln!("could not start the async runtime: {err}"))
        .ok()?;
    Some((storage, runtime))
}

/// The stores of `backend` (default: `INFRASTRUCTURE_PROVIDER`). With `create`, AWS resources are
/// created first when `AUTO_CREATE_RESOURCES=true`.
async fn open(
    storage: &StorageConfig,
    backend: Option<InitBackend>,
    create: bool,
) -> Result<Stores, String> {
    let backend = backend.unwrap_or(match storage.provider {
        StorageProvider::Local => InitBackend::Local,
        StorageProvider::Aws => InitBackend::Aws,
    });
    if backend == InitBackend::Local {
        let dir = storage.data_dir.clone();
        let path = |name: &str| dir.join(name).display().to_string();
        return Ok(Stores {
            secrets: Arc::new(LocalSecretStore::new(&dir)),
            blobs: Arc::new(LocalBlobStore::new(&dir)),
            at: Locations {
                backend: format!("local ({})", dir.display()),
                private_key: format!("{} (mode 0600)", path(CA_PRIVATE_KEY_FILE)),
                certificate: path(CA_CERTIFICATE_FILE),
                previous: path(CA_PREVIOUS_CERTIFICATE_FILE),
                truststore: path(TRUSTSTORE_BUNDLE_KEY),
            },
        });
    }
    let aws = AwsStores::new(&storage.aws).await;
    if create && storage.aws.auto_create_resources {
        aws.create_missing_resources()
            .await
            .map_err(|err| format!("AUTO_CREATE_RESOURCES failed: {err}"))?;
    }
    let secret = |name: &str| format!("Secrets Manager {}", aws.secrets.secret_name(name));
    let at = Locations {
        backend: format!("aws (region {})", aws.region()),
        private_key: secret(CA_PRIVATE_KEY_SECRET),
        certificate: secret(CA_CERTIFICATE_SECRET),
        previous: secret(CA_PREVIOUS_CERTIFICATE_SECRET),
        truststore: format!("s3://{}/{}", aws.blobs.bucket(), TRUSTSTORE_BUNDLE_KEY),
    };
    Ok(Stores {
        secrets: aws.secrets.clone(),
        blobs: aws.blobs.clone(),
        at,
    })
}

/// On stderr: which CA this run stopped trusting, and what that means for its certificates.
fn warn_about_replaced(report: &CaInitReport) {
    let Some(replaced) = &report.replaced else {
        return;
    };
    let what = if replaced.development {
        "the development CA created automatically at the first start"
    } else {
        "the existing CA (--force)"
    };
    eprintln!(
        "warning: replaced {what}: {} (SPKI pin {}). It is no longer trusted: certificates it issued stop \
         working and their devices must enrol again.",
        replaced.subject, replaced.pin
    );
    if replaced.had_previous {
        eprintln!("warning: the previous CA certificate kept with it was dropped as well.");
    }
    if !replaced.development {
        eprintln!(
            "         To keep the old CA trusted while devices renew, use `ca rotate` instead."
        );
    }
}

/// Prints what `ca init` did: the CA's subject, key type, expiry and pin, and where each piece went.
fn print_report(report: &CaInitReport, at: &Locations) {
    println!(
        "Certificate authority {}",
        if report.rotated {
            "rotated (the previous certificate stays trusted)"
        } else {
            "created"
        }
    );
    println!("  backend:     {}", at.backend);
    println!("  subject:     {}", report.subject);
    println!("  key type:    {}", report.key_type.as_str());
    println!("  not after:   {}", report.not_after.to_rfc3339());
    println!(
        "  SPKI pin:    {} (sha256, base64)",
        report.pin.sha256_base64
    );
    println!("               {} (sha256, hex)", report.pin.sha256_hex);
    println!("  private key: {}", at.private_key);
    println!("  certificate: {}", at.certificate);
    if report.rotated {
        println!("  previous:    {}", at.previous);
    }
    println!(
        "  truststore:  {} (version {})",
        at.truststore, report.bundle_version
    );
}

/// Prints the stored CA for `ca show`.
fn print_material(material: &CaMaterial, at: &Locations) {
    use secrecy::ExposeSecret as _;

    let Some(current) = CaCertificate::from_pem(&material.cert_pem) else {
        println!(
            "Certificate authority in {}: the certificate does not parse",
            at.backend
        );
        return;
    };
    let key_type = CertificateAuthority::load(
        material.key_pem.expose_secret(),
        &material.cert_pem,
        material.previous_cert_pem.as_deref(),
        chrono::Utc::now(),
    )
    .map_or_else(
        |err| format!("unusable: {err}"),
        |loaded| loaded.ca.key_type(),
    );
    println!("Certificate authority");
    println!("  backend:     {}", at.backend);
    println!("  subject:     {}", current.subject_text());
    if authority::is_development_ca(&material.cert_pem) {
        println!(
            "               the development CA created at the first start; `ca init` replaces it"
        );
    }
    println!("  key type:    {key_type}");
    println!("  not after:   {}", current.not_after().to_rfc3339());
    let pin = current.pin();
    println!("  SPKI pin:    {} (sha256, base64)", pin.sha256_base64);
    println!("               {} (sha256, hex)", pin.sha256_hex);
    println!("  private key: {}", at.private_key);
    println!("  certificate: {}", at.certificate);
    match material
        .previous_cert_pem
        .as_deref()
        .and_then(CaCertificate::from_pem)
    {
        Some(previous) => println!(
            "  previous:    {}, not after {} ({})",
            previous.subject_text(),
            previous.not_after().to_rfc3339(),
            at.previous
        ),
        None => println!("  previous:    none"),
    }
    println!("  truststore:  {}", at.truststore);
}
