//! A real OpenLDAP server for the LDAP tests: Debian's `slapd` (and `ldap-utils` for
//! [`Slapd::modify`]), started as a child process on a free `127.0.0.1` port over a
//! `slapd.conf` and an `mdb` database in a temporary directory. Nothing is downloaded; a
//! missing binary panics with the install command.
//!
//! The directory holds [`BASE_DN`] with `ou=people`, `ou=groups` and the service account
//! [`SERVICE_DN`], plus the caller's entries. [`ADMIN_DN`] is the `rootdn` (it can do
//! everything); otherwise only the service account can search, passwords can only be used to
//! bind (`by anonymous auth`), and an anonymous search finds nothing.
//!
//! [`Slapd::stop`] kills the server (`SIGKILL`) and keeps its data; [`Slapd::restart`] starts
//! it again on the same port and data (a directory outage). Dropping a [`Slapd`] kills it and
//! removes the directory. `slapd`'s stderr goes to `slapd.log` in the temporary directory (it
//! is shown when the server fails to start); with `TEST_LOG` set it logs connections and
//! operations (`-d 256`) to the test's stderr instead.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::{Instant, sleep};

/// The directory's suffix.
pub const BASE_DN: &str = "dc=example,dc=org";
/// The `rootdn`: it can read and write everything.
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
/// The `rootpw` of [`ADMIN_DN`].
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The service account (an entry: `organizationalRole` + `simpleSecurityObject`), the only
/// one besides the `rootdn` that can search the directory.
pub const SERVICE_DN: &str = "cn=svc,dc=example,dc=org";
/// The `userPassword` of [`SERVICE_DN`].
pub const SERVICE_PASSWORD: &str = "service-secret";
/// Where people go: `uid=…,ou=people,dc=example,dc=org`.
pub const PEOPLE_DN: &str = "ou=people,dc=example,dc=org";
/// Where groups go: `cn=…,ou=groups,dc=example,dc=org`.
pub const GROUPS_DN: &str = "ou=groups,dc=example,dc=org";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const LDAPMODIFY: &str = "/usr/bin/ldapmodify";
const LDAPSEARCH: &str = "/usr/bin/ldapsearch";
const SCHEMA_DIR: &str = "/etc/ldap/schema";
const MODULE_DIR: &str = "/usr/lib/ldap";
/// How long [`Slapd::start`] and [`Slapd::restart`] wait for the server to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// The entries every directory starts with (before the caller's).
const BASE_ENTRIES: &str = "\
dn: dc=example,dc=org
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=svc,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: svc
description: the service account that searches the directory
userPassword: service-secret
";

/// A running (or stopped) `slapd` with its own configuration and data.
#[derive(Debug)]
pub struct Slapd {
    port: u16,
    /// The `ldaps://` port, when started with TLS ([`Slapd::start_with_tls`]).
    tls_port: Option<u16>,
    /// `slapd.conf`, `data/` (mdb), `slapd.log`, the pid and args files.
    dir: TempDir,
    /// `None` after [`Slapd::stop`].
    child: Option<Child>,
}

impl Slapd {
    /// Loads the base entries and `entries` (LDIF: entries under `ou=people` and
    /// `ou=groups`; a clear-text `userPassword` works for simple binds) with `slapadd`, then
    /// starts `slapd` on a free loopback port and waits until it answers.
    pub async fn start(entries: &str) -> Slapd {
        Self::start_inner(entries, None).await
    }

    /// [`Slapd::start`] with TLS: the certificate chain and key (PEM) serve `ldaps://` on a
    /// second port ([`Slapd::ldaps_url`]) and StartTLS on the `ldap://` one.
    pub async fn start_with_tls(entries: &str, cert_pem: &str, key_pem: &str) -> Slapd {
        Self::start_inner(entries, Some((cert_pem, key_pem))).await
    }

    async fn start_inner(entries: &str, tls: Option<(&str, &str)>) -> Slapd {
        for binary in [SLAPD, SLAPADD, LDAPMODIFY, LDAPSEARCH] {
            if !Path::new(binary).exists() {
                panic!(
                    "{binary} is missing; install Debian's OpenLDAP server and tools: \
                     apt-get install -y slapd ldap-utils"
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("tessera-slapd-")
            .tempdir()
            .expect("a temporary directory for slapd");
        fs::create_dir(dir.path().join("data")).expect("slapd's data directory");
        let mut conf = config(dir.path());
        if let Some((cert, key)) = tls {
            fs::write(dir.path().join("cert.pem"), cert).expect("cert.pem written");
            fs::write(dir.path().join("key.pem"), key).expect("key.pem written");
            let global = format!(
                "TLSCertificateFile \"{0}/cert.pem\"\nTLSCertificateKeyFile \"{0}/key.pem\"\n\n",
                dir.path().display()
            );
            conf = conf.replacen("modulepath", &format!("{global}modulepath"), 1);
        }
        fs::write(config_path(dir.path()), conf).expect("slapd.conf written");
        let mut ldif = String::from(BASE_ENTRIES);
        if !entries.trim().is_empty() {
            let _ = write!(ldif, "\n{}\n", entries.trim());
        }
        let ldif_path = dir.path().join("entries.ldif");
        fs::write(&ldif_path, ldif).expect("entries.ldif written");
        let loaded = Command::new(SLAPADD)
            .arg("-f")
            .arg(config_path(dir.path()))
            .arg("-l")
            .arg(&ldif_path)
            .stdin(Stdio::null())
            .output()
            .expect("slapadd runs");
        if !loaded.status.success() {
            panic!(
                "slapadd failed ({}) to load the entries:\n{}",
                loaded.status,
                String::from_utf8_lossy(&loaded.stderr)
            );
        }
        let mut slapd = Slapd {
            port: 0,
            tls_port: None,
            dir,
            child: None,
        };
        // The free port can be taken between choosing and binding it: try another then.
        for attempt in 1..=3 {
            slapd.port = free_port();
            slapd.tls_port = tls.map(|_| free_port());
            slapd.spawn();
            match slapd.wait_ready().await {
                Ok(()) => return slapd,
                Err(log) if attempt < 3 && log.contains("Address already in use") => {}
                Err(log) => slapd.fail(&log),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// `ldaps://127.0.0.1:PORT` of a server started with TLS.
    pub fn ldaps_url(&self) -> String {
        let port = self.tls_port.expect("started with Slapd::start_with_tls");
        format!("ldaps://127.0.0.1:{port}")
    }

    /// The port it listens on (the same across [`Slapd::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (`SIGKILL`, no clean shutdown) and waits for it; the data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data, and waits until it answers (a
    /// running server is stopped first).
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn();
        if let Err(log) = self.wait_ready().await {
            self.fail(&log);
        }
    }

    /// Applies `ldif` (changetype records; a plain entry is an add) as [`ADMIN_DN`] with
    /// `ldapmodify`; fails the test with its stderr when it fails.
    pub fn modify(&self, ldif: &str) {
        let mut child = ldap_tool(LDAPMODIFY, 5)
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .arg("-a")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify runs");
        child
            .stdin
            .take()
            .expect("ldapmodify's stdin")
            .write_all(ldif.as_bytes())
            .expect("the LDIF written to ldapmodify");
        let out = child.wait_with_output().expect("ldapmodify ends");
        if !out.status.success() {
            panic!(
                "ldapmodify failed ({}):\n{}{}\nLDIF:\n{ldif}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Where `slapd` writes its stderr (unless `TEST_LOG` is set).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    /// Starts the `slapd` child on `self.port`.
    fn spawn(&mut self) {
        let verbose = std::env::var_os("TEST_LOG").is_some();
        let stderr = if verbose {
            Stdio::inherit()
        } else {
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("slapd.log opens");
            Stdio::from(log)
        };
        // `-d` keeps slapd in the foreground; "none" (32768) prints only its errors (with
        // `-d 0` it prints nothing at all), 256 adds every connection and operation.
        let debug = if verbose { "256" } else { "32768" };
        let child = Command::new(SLAPD)
            .args(["-d", debug, "-f"])
            .arg(config_path(self.dir.path()))
            .arg("-h")
            .arg(match self.tls_port {
                Some(tls) => format!("ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{tls}/", self.port),
                None => format!("ldap://127.0.0.1:{}/", self.port),
            })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("slapd starts");
        self.child = Some(child);
    }

    /// Waits until the server answers a root DSE search; `Err(log)` when it exits or does not
    /// answer within [`READY_TIMEOUT`].
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("slapd exited ({status})\n{}", self.log()));
            }
            let listening = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok();
            if listening && self.root_dse().status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "slapd did not answer on {} within {READY_TIMEOUT:?}\n{}",
                    self.url(),
                    self.log()
                ));
            }
            sleep(POLL).await;
        }
    }

    /// An anonymous base search of the root DSE (`ldapsearch -b "" -s base`).
    fn root_dse(&self) -> Output {
        ldap_tool(LDAPSEARCH, 1)
            .args(["-x", "-H", &self.url(), "-b", "", "-s", "base"])
            .stdin(Stdio::null())
            .output()
            .expect("ldapsearch runs")
    }

    /// What `slapd` wrote to its log.
    fn log(&self) -> String {
        match fs::read_to_string(self.log_path()) {
            Ok(log) if !log.trim().is_empty() => format!("slapd's stderr:\n{log}"),
            Ok(_) => "slapd's stderr is empty".to_owned(),
            Err(_) => "slapd's stderr went to the test's (TEST_LOG)".to_owned(),
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        self.stop();
        panic!(
            "slapd ({}, config {}) failed to start: {why}",
            self.url(),
            config_path(self.dir.path()).display()
        );
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An `ldap-utils` command that gives up after `seconds` without an answer: `-o nettimeout`
/// bounds the connect, `LDAPTIMEOUT` each operation (a port that accepts connections but
/// never answers would otherwise hang it forever).
fn ldap_tool(binary: &str, seconds: u32) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("-o")
        .arg(format!("nettimeout={seconds}"))
        .env("LDAPTIMEOUT", seconds.to_string());
    command
}

fn config_path(dir: &Path) -> PathBuf {
    dir.join("slapd.conf")
}

/// A free loopback port (bound then released; [`Slapd::start`] retries if it is taken).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `slapd.conf` for a server whose files live in `dir`.
fn config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        r#"# Generated by tessera-testkit (ldap.rs).
include {SCHEMA_DIR}/core.schema
include {SCHEMA_DIR}/cosine.schema
include {SCHEMA_DIR}/inetorgperson.schema
include {SCHEMA_DIR}/nis.schema

pidfile "{dir}/slapd.pid"
argsfile "{dir}/slapd.args"

modulepath {MODULE_DIR}
moduleload back_mdb

database mdb
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory "{dir}/data"
index objectClass eq
index uid,cn,member eq

# The rootdn bypasses these. Passwords only serve to bind; only the service account reads.
access to attrs=userPassword
    by anonymous auth
    by self write
    by * none
access to *
    by dn.exact="{SERVICE_DN}" read
    by self read
    by * none
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB_DN: &str = "uid=bob,ou=people,dc=example,dc=org";
    const ADMINS_DN: &str = "cn=admins,ou=groups,dc=example,dc=org";

    const ENTRIES: &str = "\
dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
cn: Bob Builder
sn: Builder
uid: bob
mail: bob@example.org
userPassword: bob-password

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=bob,ou=people,dc=example,dc=org
";

    /// `ldapsearch` bound as `bind` (`None`: anonymous) for `filter` under [`BASE_DN`].
    fn search(slapd: &Slapd, bind: Option<(&str, &str)>, filter: &str, attrs: &[&str]) -> Output {
        let mut command = ldap_tool(LDAPSEARCH, 5);
        command.args(["-x", "-LLL", "-H", &slapd.url()]);
        if let Some((dn, password)) = bind {
            command.args(["-D", dn, "-w", password]);
        }
        command
            .args(["-b", BASE_DN, filter])
            .args(attrs)
            .output()
            .expect("ldapsearch runs")
    }

    fn service_search(slapd: &Slapd, filter: &str, attrs: &[&str]) -> String {
        let out = search(slapd, Some((SERVICE_DN, SERVICE_PASSWORD)), filter, attrs);
        assert!(
            out.status.success(),
            "ldapsearch as the service account: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 LDIF")
    }

    fn whoami(slapd: &Slapd, dn: &str, password: &str) -> Output {
        ldap_tool("/usr/bin/ldapwhoami", 5)
            .args(["-x", "-H", &slapd.url()])
            .args(["-D", dn, "-w", password])
            .output()
            .expect("ldapwhoami runs")
    }

    #[tokio::test]
    async fn slapd_serves_binds_searches_restarts_and_modifies() {
        let started = std::time::Instant::now();
        let mut slapd = Slapd::start(ENTRIES).await;
        eprintln!(
            "slapd started in {:?} on {}",
            started.elapsed(),
            slapd.url()
        );
        assert_eq!(slapd.url(), format!("ldap://127.0.0.1:{}", slapd.port()));

        // The service account finds bob, with an entryUUID generated by slapadd.
        let bob = service_search(&slapd, "(uid=bob)", &["uid", "mail", "entryUUID"]);
        assert!(bob.contains(&format!("dn: {BOB_DN}")), "{bob}");
        assert!(bob.contains("mail: bob@example.org"), "{bob}");
        let uuid = bob
            .lines()
            .find_map(|l| l.strip_prefix("entryUUID: "))
            .expect("bob has an entryUUID");
        assert!(uuid::Uuid::parse_str(uuid).is_ok(), "entryUUID {uuid}");
        // Nobody reads a password, not even the service account.
        let secret = service_search(&slapd, "(uid=bob)", &["userPassword"]);
        assert!(!secret.contains("userPassword"), "{secret}");
        let group = service_search(&slapd, "(cn=admins)", &["member"]);
        assert!(group.contains(&format!("member: {BOB_DN}")), "{group}");

        // An anonymous search finds nothing.
        let anonymous = search(&slapd, None, "(uid=bob)", &[]);
        assert!(
            !String::from_utf8_lossy(&anonymous.stdout).contains(BOB_DN),
            "anonymous search found bob"
        );

        // Bob binds with his password, not with another.
        let right = whoami(&slapd, BOB_DN, "bob-password");
        assert!(
            right.status.success(),
            "bob's bind: {}",
            String::from_utf8_lossy(&right.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&right.stdout).trim(),
            format!("dn:{BOB_DN}")
        );
        let wrong = whoami(&slapd, BOB_DN, "not-bobs-password");
        assert!(!wrong.status.success(), "a wrong password binds");
        assert!(
            String::from_utf8_lossy(&wrong.stderr).contains("Invalid credentials"),
            "{}",
            String::from_utf8_lossy(&wrong.stderr)
        );

        // Down: nothing answers; up again on the same port with the same data.
        let port = slapd.port();
        slapd.stop();
        let down = search(
            &slapd,
            Some((SERVICE_DN, SERVICE_PASSWORD)),
            "(uid=bob)",
            &[],
        );
        assert!(!down.status.success(), "a stopped slapd answered");
        let restarted = std::time::Instant::now();
        slapd.restart().await;
        eprintln!("slapd restarted in {:?}", restarted.elapsed());
        assert_eq!(slapd.port(), port);
        let again = service_search(&slapd, "(uid=bob)", &["entryUUID"]);
        assert!(again.contains(&format!("entryUUID: {uuid}")), "{again}");

        // A modify as the rootdn: bob leaves the group (groupOfNames must keep a member).
        slapd.modify(&format!(
            "dn: {ADMINS_DN}\nchangetype: modify\nadd: member\nmember: {SERVICE_DN}\n-\n\
             delete: member\nmember: {BOB_DN}\n"
        ));
        let group = service_search(&slapd, "(cn=admins)", &["member"]);
        assert!(!group.contains(BOB_DN), "{group}");
        assert!(group.contains(&format!("member: {SERVICE_DN}")), "{group}");
    }
}
