//! `--repository LOCATION`: a repository named by where it is (a folder, `s3://bucket/prefix`,
//! `azblob://container/prefix`) rather than by a store of the settings, turned into the same
//! [`StorageTarget`] a settings file gives, with the endpoint and credentials taken from the
//! standard `AWS_*` and `AZURE_STORAGE_*` environment variables.
//!
//! The rule that tells a location from a store name ([`is_location`]): a store name is plain
//! (letters, digits, `-`, `_`, `.`), so anything with `://` or `/` in it, `.`, `..`, or a
//! value starting with `~` is a location; everything else is a store name.
//!
//! Nothing here reads the process environment or touches the store: the caller passes the
//! environment in, and errors name the variable to set, never a value that could be a secret.

use std::path::{Path, PathBuf};

use super::paths::normalize;
use super::schema::StorageTarget;
use super::secret::Secret;
use crate::error::{Error, Result};

/// The forms `--repository` accepts, for error guidance.
const FORMS: &str = "give a store name from the settings, or a location: a folder (/srv/backups, \
                     ./backups, file:///srv/backups), s3://BUCKET/PREFIX or \
                     azblob://CONTAINER/PREFIX";

/// The region of an S3-compatible server (a custom endpoint) when none is set: such servers
/// accept any region, and signatures need one.
const DEFAULT_COMPATIBLE_REGION: &str = "us-east-1";

/// Whether `--repository` names a location rather than a store of the settings.
pub fn is_location(arg: &str) -> bool {
    arg.contains("://") || arg.contains('/') || arg == "." || arg == ".." || arg.starts_with('~')
}

/// The inverse of [`parse_location`]: the location text that names `target`, and the
/// environment variables that carry its endpoint and credentials (what an operator exports on a
/// new host). Secrets are in the returned pairs only: pass them to a child's environment, never
/// print them.
pub fn location_for(target: &StorageTarget) -> (String, Vec<(String, String)>) {
    let mut env = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            env.push((k.to_string(), v));
        }
    };
    let under = |scheme: &str, top: &str, prefix: &Option<String>| match prefix
        .as_deref()
        .unwrap_or("")
        .trim_matches('/')
    {
        "" => format!("{scheme}://{top}"),
        p => format!("{scheme}://{top}/{p}"),
    };
    let exposed = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string());
    let text = match target {
        StorageTarget::Local { path, .. } => path.to_string_lossy().into_owned(),
        StorageTarget::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } => {
            put("AWS_ACCESS_KEY_ID", access_key_id.clone());
            put("AWS_SECRET_ACCESS_KEY", exposed(secret_access_key));
            put("AWS_SESSION_TOKEN", exposed(session_token));
            put("AWS_REGION", region.clone());
            put("AWS_ENDPOINT_URL", endpoint.clone());
            under("s3", bucket, prefix)
        }
        StorageTarget::Azblob {
            container,
            prefix,
            account,
            endpoint,
            account_key,
            sas_token,
            ..
        } => {
            put("AZURE_STORAGE_ACCOUNT", account.clone());
            put("AZURE_STORAGE_KEY", exposed(account_key));
            put("AZURE_STORAGE_SAS_TOKEN", exposed(sas_token));
            put("AZURE_STORAGE_BLOB_ENDPOINT", endpoint.clone());
            under("azblob", container, prefix)
        }
    };
    (text, env)
}

/// The store a location names. Relative folders resolve against `cwd`, `~/` against `HOME`;
/// `env` is the process environment as pairs (the last of a name wins, empty counts as unset).
pub fn parse_location(arg: &str, cwd: &Path, env: &[(String, String)]) -> Result<StorageTarget> {
    let env = Env(env);
    if arg.trim().is_empty() {
        return Err(Error::usage("--repository is empty").with_guidance(FORMS));
    }
    if arg.chars().any(char::is_control) {
        return Err(Error::usage("--repository contains a control character").with_guidance(FORMS));
    }
    match arg.split_once("://") {
        None => local(arg, cwd, &env),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "file" => file_url(rest),
            "s3" => s3(rest, &env),
            "azblob" => azblob(rest, &env),
            _ => Err(Error::usage(format!(
                "--repository: unknown scheme {:?} (known: file, s3, azblob)",
                scheme_shown(scheme)
            ))
            .with_guidance(FORMS)),
        },
    }
}

/// A scheme as typed, cut short and without anything but plain characters (it is shown).
fn scheme_shown(scheme: &str) -> String {
    scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .take(16)
        .collect()
}

/// Environment lookups: the last pair of a name wins; an empty value is unset.
struct Env<'a>(&'a [(String, String)]);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// The first of `names` that is set, with its name.
    fn first(&self, names: &[&'static str]) -> Option<(&'static str, &str)> {
        names.iter().find_map(|n| self.get(n).map(|v| (*n, v)))
    }
}

fn local(arg: &str, cwd: &Path, env: &Env<'_>) -> Result<StorageTarget> {
    let path = if arg == "~" || arg.starts_with("~/") {
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute());
        let Some(home) = home else {
            return Err(Error::usage(format!(
                "--repository {arg}: `~` needs HOME, which is not set to an absolute folder"
            ))
            .with_guidance("give the folder as an absolute path"));
        };
        home.join(arg.trim_start_matches('~').trim_start_matches('/'))
    } else if arg.starts_with('~') {
        return Err(Error::usage(format!(
            "--repository {arg}: only `~/` (this user's home) is understood, not `~user`"
        ))
        .with_guidance("give the folder as an absolute path"));
    } else {
        cwd.join(arg)
    };
    Ok(StorageTarget::local(normalize(&path)))
}

/// `file:///abs/path` (or `file://localhost/abs/path`).
fn file_url(rest: &str) -> Result<StorageTarget> {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(Error::usage(
            "--repository: a file:// location names a folder on this host: file:///srv/backups",
        )
        .with_guidance("write file:/// followed by the absolute path, or the path alone"));
    }
    if path.contains('?') || path.contains('#') || path.contains('%') {
        return Err(Error::usage(
            "--repository: a file:// location takes a plain path (no query, fragment or %-escapes)",
        )
        .with_guidance("give the folder as a plain path (/srv/backups)"));
    }
    Ok(StorageTarget::local(normalize(Path::new(path))))
}

/// `BUCKET/PREFIX` (or `CONTAINER/PREFIX`) of a cloud location: the top name checked, the
/// prefix without surrounding slashes (`None` when empty).
fn top_and_prefix<'a>(
    rest: &'a str,
    what: &str,
    example: &str,
    valid: impl Fn(char) -> bool,
) -> Result<(&'a str, Option<String>)> {
    if rest.contains(['?', '#', '@']) || rest.chars().any(char::is_whitespace) {
        return Err(Error::usage(format!(
            "--repository: a location holds the {what} and a prefix only (no credentials, query \
             or spaces): {example}"
        ))
        .with_guidance("credentials come from the environment (docs/SETTINGS.md)"));
    }
    let (top, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if top.is_empty() {
        return Err(Error::usage(format!(
            "--repository: the location names no {what}: {example}"
        ))
        .with_guidance(format!(
            "write the {what}'s name after the scheme: {example}"
        )));
    }
    if top.len() > 63 || !top.chars().all(valid) {
        return Err(
            Error::usage(format!("--repository: {top:?} is not a valid {what} name"))
                .with_guidance(format!(
                    "a {what} name has at most 63 lower-case letters, digits, '-' (and '.' for a \
             bucket): {example}"
                )),
        );
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == ".." || p == ".") {
        return Err(Error::usage(format!(
            "--repository: the prefix of the {what} may not contain `.` or `..`"
        ))
        .with_guidance(format!(
            "write the folder inside the {what} as stored: {example}"
        )));
    }
    Ok((top, (!prefix.is_empty()).then(|| prefix.to_string())))
}

/// An endpoint URL from the environment: `http(s)://host[:port][/path]`, no credentials or
/// query. Errors name the variable, never its value (it could carry a secret).
fn endpoint(var: &str, value: &str) -> Result<String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let problem = match authority {
        None => Some("is not a URL (it must start with https:// or http://)"),
        Some(a) if a.is_empty() || a.starts_with(':') => Some("has no host"),
        Some(a) if a.contains('@') => Some("carries credentials (user@host)"),
        Some(_) if value.contains(['?', '#']) || value.chars().any(char::is_whitespace) => {
            Some("has a query string or white space")
        }
        Some(_) => None,
    };
    match problem {
        Some(p) => Err(Error::settings(format!("{var} {p}")).with_guidance(format!(
            "set {var} to the service URL alone, e.g. https://host:port"
        ))),
        None => Ok(value.trim_end_matches('/').to_string()),
    }
}

fn s3(rest: &str, env: &Env<'_>) -> Result<StorageTarget> {
    let example = "s3://my-bucket/prod";
    let (bucket, prefix) = top_and_prefix(rest, "bucket", example, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_')
    })?;
    let endpoint = match env.first(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
        Some((var, value)) => Some(endpoint(var, value)?),
        None => None,
    };
    let region = match env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]) {
        Some((_, r)) => r.to_string(),
        None if endpoint.is_some() => DEFAULT_COMPATIBLE_REGION.to_string(),
        None => {
            return Err(Error::settings(format!(
                "s3://{bucket}: no region: set AWS_REGION (or AWS_DEFAULT_REGION)"
            ))
            .with_guidance(
                "export AWS_REGION=<the bucket's region>, e.g. eu-west-1; for an S3-compatible \
                 server set AWS_ENDPOINT_URL to its URL",
            ));
        }
    };
    let key_id = env.get("AWS_ACCESS_KEY_ID");
    let secret = env.get("AWS_SECRET_ACCESS_KEY");
    let token = env.get("AWS_SESSION_TOKEN");
    let missing = |var: &str| {
        Error::settings(format!(
            "s3://{bucket}: incomplete credentials: {var} is not set"
        ))
        .with_guidance(format!(
            "export {var} as well (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together, \
             AWS_SESSION_TOKEN with both for temporary credentials), or unset them and use \
             AWS_PROFILE"
        ))
    };
    match (key_id, secret) {
        (Some(_), None) => return Err(missing("AWS_SECRET_ACCESS_KEY")),
        (None, Some(_)) => return Err(missing("AWS_ACCESS_KEY_ID")),
        (None, None) if token.is_some() => return Err(missing("AWS_ACCESS_KEY_ID")),
        // No key in the environment: a profile, a web identity or a container role may sign.
        // On an S3-compatible server (a custom endpoint) only keys or a profile can.
        (None, None) if endpoint.is_some() && !has_profile(env) => {
            return Err(Error::settings(format!(
                "s3://{bucket}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (or AWS_PROFILE)"
            ))
            .with_guidance(
                "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of a user that may read the \
                 bucket (AWS_SESSION_TOKEN too for temporary credentials), or AWS_PROFILE naming \
                 a profile of ~/.aws/credentials",
            ));
        }
        _ => {}
    }
    Ok(StorageTarget::S3 {
        bucket: bucket.to_string(),
        prefix,
        region: Some(region),
        endpoint,
        access_key_id: key_id.map(str::to_string),
        secret_access_key: secret.map(Secret::new),
        session_token: token.filter(|_| key_id.is_some()).map(Secret::new),
        force_path_style: None,
        allow_unenforced_create_only: false,
        lock_mode: Default::default(),
        timeout_seconds: None,
        name: None,
        immutable: false,
    })
}

/// A profile may sign: `AWS_PROFILE` or a shared credentials file is named, or
/// `~/.aws/credentials` exists.
fn has_profile(env: &Env<'_>) -> bool {
    env.first(&["AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"])
        .is_some()
        || env
            .get("HOME")
            .is_some_and(|h| Path::new(h).join(".aws/credentials").is_file())
}

/// The `Key=Value;...` pairs of an Azure connection string (a value may contain `=`).
fn connection_string(cs: &str) -> Vec<(String, String)> {
    cs.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn azblob(rest: &str, env: &Env<'_>) -> Result<StorageTarget> {
    let example = "azblob://my-container/prod";
    let (container, prefix) = top_and_prefix(rest, "container", example, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    })?;
    let cs = env
        .get("AZURE_STORAGE_CONNECTION_STRING")
        .map(connection_string)
        .unwrap_or_default();
    let from_cs = |key: &str| {
        cs.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let account = env
        .get("AZURE_STORAGE_ACCOUNT")
        .map(str::to_string)
        .or_else(|| from_cs("accountname"));
    let key = env
        .get("AZURE_STORAGE_KEY")
        .map(str::to_string)
        .or_else(|| from_cs("accountkey"));
    let sas = env
        .get("AZURE_STORAGE_SAS_TOKEN")
        .map(str::to_string)
        .or_else(|| from_cs("sharedaccesssignature"));
    let endpoint = match env.get("AZURE_STORAGE_BLOB_ENDPOINT") {
        Some(e) => Some(endpoint("AZURE_STORAGE_BLOB_ENDPOINT", e)?),
        None => match from_cs("blobendpoint") {
            Some(e) => Some(endpoint(
                "the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING",
                &e,
            )?),
            None => match (&account, from_cs("endpointsuffix")) {
                (Some(a), Some(suffix)) => {
                    let scheme =
                        from_cs("defaultendpointsprotocol").unwrap_or_else(|| "https".into());
                    Some(endpoint(
                        "the endpoint of AZURE_STORAGE_CONNECTION_STRING",
                        &format!("{scheme}://{a}.blob.{suffix}"),
                    )?)
                }
                _ => None,
            },
        },
    };
    if account.is_none() && endpoint.is_none() {
        return Err(Error::settings(format!(
            "azblob://{container}: no storage account: set AZURE_STORAGE_ACCOUNT"
        ))
        .with_guidance(
            "export AZURE_STORAGE_ACCOUNT (and AZURE_STORAGE_BLOB_ENDPOINT for another cloud or \
             an emulator), or AZURE_STORAGE_CONNECTION_STRING",
        ));
    }
    match (&key, &sas) {
        (None, None) => {
            return Err(Error::settings(format!(
                "azblob://{container}: no credentials: set AZURE_STORAGE_KEY or \
                 AZURE_STORAGE_SAS_TOKEN"
            ))
            .with_guidance(
                "export AZURE_STORAGE_KEY (the account's shared key) or AZURE_STORAGE_SAS_TOKEN \
                 (a SAS with read and list permissions), or AZURE_STORAGE_CONNECTION_STRING \
                 with AccountKey",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(Error::settings(format!(
                "azblob://{container}: both a shared key and a SAS token are set"
            ))
            .with_guidance(
                "keep one of AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN (the connection \
                 string's AccountKey and SharedAccessSignature count too) and unset the other",
            ));
        }
        _ => {}
    }
    Ok(StorageTarget::Azblob {
        container: container.to_string(),
        prefix,
        account,
        endpoint,
        account_key: key.map(Secret::new),
        sas_token: sas.map(|s| Secret::new(s.trim_start_matches('?'))),
        allow_unenforced_create_only: false,
        timeout_seconds: None,
        name: None,
        immutable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(arg: &str, pairs: &[(&str, &str)]) -> Result<StorageTarget> {
        parse_location(arg, Path::new("/work/here"), &env(pairs))
    }

    fn err(arg: &str, pairs: &[(&str, &str)]) -> Error {
        match parse(arg, pairs) {
            Ok(t) => panic!("{arg} parsed: {t:?}"),
            Err(e) => e,
        }
    }

    /// Message and guidance, and the Debug form: what any face could show.
    fn shown(e: &Error) -> String {
        format!("{e} {} {e:?}", e.guidance.as_deref().unwrap_or(""))
    }

    #[test]
    fn a_store_given_by_its_location_and_environment_reads_back_the_same() {
        let cwd = Path::new("/");
        let s3 = parse_location(
            "s3://bkt/prod/app",
            cwd,
            &[
                ("AWS_ACCESS_KEY_ID".into(), "AKID".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "s3-secret".into()),
                ("AWS_SESSION_TOKEN".into(), "sts-token".into()),
                ("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9000".into()),
            ],
        )
        .unwrap();
        let az = parse_location(
            "azblob://cont/x",
            cwd,
            &[
                ("AZURE_STORAGE_ACCOUNT".into(), "acct".into()),
                ("AZURE_STORAGE_KEY".into(), "az-key".into()),
                (
                    "AZURE_STORAGE_BLOB_ENDPOINT".into(),
                    "http://127.0.0.1:10000/acct".into(),
                ),
            ],
        )
        .unwrap();
        let local = parse_location("/srv/backups", cwd, &[]).unwrap();
        for t in [s3, az, local] {
            let (text, env) = location_for(&t);
            let again = parse_location(&text, cwd, &env).unwrap();
            assert_eq!(format!("{again:?}"), format!("{t:?}"), "{text}");
            // Secrets only in the environment pairs, never in the text.
            for secret in ["s3-secret", "sts-token", "az-key"] {
                assert!(!text.contains(secret), "{text}");
            }
            let exposed = |t: &StorageTarget| match t {
                StorageTarget::S3 {
                    secret_access_key,
                    session_token,
                    ..
                } => secret_access_key
                    .iter()
                    .chain(session_token)
                    .map(|s| s.expose().to_string())
                    .collect::<Vec<_>>(),
                StorageTarget::Azblob { account_key, .. } => {
                    account_key.iter().map(|s| s.expose().to_string()).collect()
                }
                StorageTarget::Local { .. } => Vec::new(),
            };
            assert_eq!(exposed(&again), exposed(&t));
        }
    }

    #[test]
    fn names_and_locations_are_told_apart() {
        for name in [
            "primary",
            "offsite",
            "azure-eu",
            "replica-1",
            "a.b",
            ".hidden",
        ] {
            assert!(!is_location(name), "{name}");
        }
        for loc in [
            "/srv/backups",
            "./backups",
            "../b",
            ".",
            "..",
            "~/backups",
            "backups/",
            "file:///srv/b",
            "s3://b/p",
            "azblob://c",
        ] {
            assert!(is_location(loc), "{loc}");
        }
    }

    #[test]
    fn folders_resolve_against_the_working_folder_and_home() {
        let local = |p: &str| StorageTarget::local(PathBuf::from(p));
        assert_eq!(parse("/srv/backups/", &[]).unwrap(), local("/srv/backups"));
        assert_eq!(
            parse("./backups", &[]).unwrap(),
            local("/work/here/backups")
        );
        assert_eq!(parse("../b/./c", &[]).unwrap(), local("/work/b/c"));
        assert_eq!(
            parse("file:///srv/backups", &[]).unwrap(),
            local("/srv/backups")
        );
        assert_eq!(
            parse("FILE://localhost/srv/b", &[]).unwrap(),
            local("/srv/b")
        );
        assert_eq!(
            parse("~/b", &[("HOME", "/home/op")]).unwrap(),
            local("/home/op/b")
        );
        assert!(err("~/b", &[]).message.contains("HOME"));
        assert!(err("~other/b", &[("HOME", "/h")]).message.contains("~user"));
        assert!(err("file://host/srv", &[]).message.contains("file:///"));
        assert_eq!(err("", &[]).kind, ErrorKind::Usage);
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_forms() {
        let e = err("ftp://host/x", &[]);
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("unknown scheme \"ftp\""), "{e}");
        assert!(shown(&e).contains("s3://BUCKET/PREFIX"), "{e:?}");
        let e = err("gs://b", &[]);
        assert!(e.message.contains("\"gs\""), "{e}");
    }

    const AWS: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "AKIDBARE"),
        ("AWS_SECRET_ACCESS_KEY", "bare-s3-secret-9d2"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:8333/"),
    ];

    #[test]
    fn s3_takes_bucket_prefix_and_the_aws_environment() {
        let t = parse("s3://dr-bucket/hosts/a/", &AWS).unwrap();
        let StorageTarget::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            session_token,
            force_path_style,
            ..
        } = &t
        else {
            panic!("not s3: {t:?}")
        };
        assert_eq!(bucket, "dr-bucket");
        assert_eq!(prefix.as_deref(), Some("hosts/a"));
        assert_eq!(region.as_deref(), Some(DEFAULT_COMPATIBLE_REGION));
        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(access_key_id.as_deref(), Some("AKIDBARE"));
        assert_eq!(
            secret_access_key.as_ref().map(Secret::expose),
            Some("bare-s3-secret-9d2")
        );
        assert!(session_token.is_none());
        // Path style follows from the custom endpoint, as for a settings file.
        assert_eq!(*force_path_style, None);
        assert_eq!(t.display_name(), "s3://dr-bucket/hosts/a");
        assert!(!format!("{t:?}").contains("bare-s3-secret-9d2"));

        // The S3-specific endpoint wins; the region and a session token are taken.
        let mut pairs = AWS.to_vec();
        pairs.extend([
            ("AWS_ENDPOINT_URL_S3", "https://s3.example.net"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_SESSION_TOKEN", "tok-123"),
        ]);
        let StorageTarget::S3 {
            endpoint,
            region,
            session_token,
            prefix,
            ..
        } = parse("s3://b", &pairs).unwrap()
        else {
            panic!("not s3")
        };
        assert_eq!(endpoint.as_deref(), Some("https://s3.example.net"));
        assert_eq!(region.as_deref(), Some("eu-west-1"));
        assert_eq!(session_token.as_ref().map(Secret::expose), Some("tok-123"));
        assert_eq!(prefix, None);

        // AWS itself with a profile: no key needed here.
        let t = parse(
            "s3://b/p",
            &[("AWS_REGION", "us-west-2"), ("AWS_PROFILE", "dr")],
        )
        .unwrap();
        assert!(matches!(
            t,
            StorageTarget::S3 {
                endpoint: None,
                access_key_id: None,
                ..
            }
        ));
    }

    #[test]
    fn s3_errors_name_what_to_set_and_never_a_secret() {
        let secret = "bare-s3-secret-9d2";
        for (arg, pairs, needle) in [
            ("s3://", AWS.to_vec(), "names no bucket"),
            ("s3:///prefix", AWS.to_vec(), "names no bucket"),
            ("s3://Bad_Bucket!", AWS.to_vec(), "not a valid bucket"),
            ("s3://b/../x", AWS.to_vec(), "`..`"),
            ("s3://key:secret@b/p", AWS.to_vec(), "no credentials"),
            (
                "s3://b",
                vec![("AWS_SECRET_ACCESS_KEY", secret), ("AWS_REGION", "r")],
                "AWS_ACCESS_KEY_ID is not set",
            ),
            (
                "s3://b",
                vec![("AWS_ACCESS_KEY_ID", "AK"), ("AWS_REGION", "r")],
                "AWS_SECRET_ACCESS_KEY is not set",
            ),
            (
                "s3://b",
                vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:1")],
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ),
            (
                "s3://b",
                vec![
                    ("AWS_ACCESS_KEY_ID", "AK"),
                    ("AWS_SECRET_ACCESS_KEY", secret),
                ],
                "set AWS_REGION",
            ),
            (
                "s3://b",
                vec![
                    ("AWS_ACCESS_KEY_ID", "AK"),
                    ("AWS_SECRET_ACCESS_KEY", secret),
                    ("AWS_ENDPOINT_URL", "http://user:pw-in-url@host:9000"),
                ],
                "AWS_ENDPOINT_URL carries credentials",
            ),
        ] {
            let e = err(arg, &pairs);
            assert!(e.message.contains(needle), "{arg}: {e}");
            let all = shown(&e);
            for s in [secret, "pw-in-url"] {
                assert!(!all.contains(s), "{arg}: secret shown: {all}");
            }
        }
    }

    #[test]
    fn azblob_takes_account_key_sas_endpoint_or_a_connection_string() {
        let t = parse(
            "azblob://dr-container/prod",
            &[
                ("AZURE_STORAGE_ACCOUNT", "acct"),
                ("AZURE_STORAGE_KEY", "a2V5LXNlY3JldA=="),
            ],
        )
        .unwrap();
        let StorageTarget::Azblob {
            container,
            prefix,
            account,
            endpoint,
            account_key,
            sas_token,
            ..
        } = &t
        else {
            panic!("not azblob: {t:?}")
        };
        assert_eq!(container, "dr-container");
        assert_eq!(prefix.as_deref(), Some("prod"));
        assert_eq!(account.as_deref(), Some("acct"));
        assert_eq!(*endpoint, None);
        assert_eq!(
            account_key.as_ref().map(Secret::expose),
            Some("a2V5LXNlY3JldA==")
        );
        assert!(sas_token.is_none());

        let cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
                  AccountKey=Zm9vYmFy==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";
        let StorageTarget::Azblob {
            account,
            endpoint,
            account_key,
            ..
        } = parse("azblob://c", &[("AZURE_STORAGE_CONNECTION_STRING", cs)]).unwrap()
        else {
            panic!("not azblob")
        };
        assert_eq!(account.as_deref(), Some("devstoreaccount1"));
        assert_eq!(
            endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert_eq!(account_key.as_ref().map(Secret::expose), Some("Zm9vYmFy=="));

        // A SAS and an explicit endpoint; the suffix form of a connection string.
        let StorageTarget::Azblob {
            endpoint,
            sas_token,
            ..
        } = parse(
            "azblob://c",
            &[
                (
                    "AZURE_STORAGE_BLOB_ENDPOINT",
                    "https://acct.blob.example.net/",
                ),
                ("AZURE_STORAGE_SAS_TOKEN", "?sv=2024&sig=S"),
            ],
        )
        .unwrap()
        else {
            panic!("not azblob")
        };
        assert_eq!(endpoint.as_deref(), Some("https://acct.blob.example.net"));
        assert_eq!(
            sas_token.as_ref().map(Secret::expose),
            Some("sv=2024&sig=S")
        );
        let StorageTarget::Azblob { endpoint, .. } = parse(
            "azblob://c",
            &[(
                "AZURE_STORAGE_CONNECTION_STRING",
                "AccountName=a;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn",
            )],
        )
        .unwrap() else {
            panic!("not azblob")
        };
        assert_eq!(
            endpoint.as_deref(),
            Some("https://a.blob.core.chinacloudapi.cn")
        );
    }

    #[test]
    fn azblob_errors_name_what_to_set_and_never_a_secret() {
        let key = "azure-key-secret-55";
        for (arg, pairs, needle) in [
            ("azblob://", vec![], "names no container"),
            (
                "azblob://Upper_Case",
                vec![("AZURE_STORAGE_ACCOUNT", "a"), ("AZURE_STORAGE_KEY", key)],
                "not a valid container",
            ),
            (
                "azblob://c",
                vec![("AZURE_STORAGE_KEY", key)],
                "set AZURE_STORAGE_ACCOUNT",
            ),
            (
                "azblob://c",
                vec![("AZURE_STORAGE_ACCOUNT", "a")],
                "set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN",
            ),
            (
                "azblob://c",
                vec![
                    ("AZURE_STORAGE_ACCOUNT", "a"),
                    ("AZURE_STORAGE_KEY", key),
                    ("AZURE_STORAGE_SAS_TOKEN", "sig=x"),
                ],
                "both a shared key and a SAS token",
            ),
            (
                "azblob://c",
                vec![
                    ("AZURE_STORAGE_KEY", key),
                    ("AZURE_STORAGE_BLOB_ENDPOINT", "ftp://x"),
                ],
                "AZURE_STORAGE_BLOB_ENDPOINT is not a URL",
            ),
        ] {
            let e = err(arg, &pairs);
            assert!(e.message.contains(needle), "{arg}: {e}");
            assert!(!shown(&e).contains(key), "{arg}: secret shown");
        }
    }
}
