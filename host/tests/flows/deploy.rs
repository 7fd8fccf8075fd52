//! The Kubernetes manifests (deploy/kubernetes/) and the Dockerfile, checked offline: against the Kubernetes schemas
//! (kubernetes-validate, in the venv scripts/setup-python.sh makes), and against this binary: its configuration
//! loader takes the ConfigMap's wasmcc.toml, and every port, path, flag and name the manifests and the image repeat
//! is the one that configuration and the binary define.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wasmcc_host::config::Config;

/// The Kubernetes versions the manifests must be valid for: an old one still in providers' support, and the newest
/// whose schemas kubernetes-validate ships.
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.37.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// A program of the venv; missing, the test fails and says how to make it (no silent skip).
fn venv(program: &str) -> PathBuf {
    let path = root().join("target/python/bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/setup-python.sh` (it makes the venv target/python with kubernetes-validate)",
        path.display()
    );
    path
}

fn manifests() -> Vec<PathBuf> {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every document of every manifest, as JSON (PyYAML, which kubernetes-validate itself parses them with).
fn documents() -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]\n\
                  json.dump(docs, sys.stdout)";
    let out = Command::new(venv("python")).arg("-c").arg(script).args(manifests()).output().expect("running python");
    assert!(out.status.success(), "loading the manifests with PyYAML failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("PyYAML's JSON")
}

#[test]
fn manifests_are_valid_kubernetes_objects() {
    let tool = venv("kubernetes-validate");
    let files = manifests();
    let mut cmd = Command::new(tool);
    cmd.arg("--strict");
    for version in KUBERNETES_VERSIONS {
        cmd.args(["--kubernetes-version", version]);
    }
    let out = cmd.args(files).output().expect("running kubernetes-validate");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "kubernetes-validate refused the manifests:\n{stdout}{}", text(&out.stderr));
    // An unknown kind or apiVersion is only a WARN (exit 0): a typo there would otherwise go unchecked.
    let complaints: Vec<&str> =
        stdout.lines().filter(|l| !(l.starts_with("INFO ") && l.contains(" passed for resource "))).collect();
    assert!(complaints.is_empty(), "kubernetes-validate did not pass every resource:\n{}", complaints.join("\n"));
    let passed = stdout.lines().count();
    assert_eq!(
        passed,
        documents().len() * KUBERNETES_VERSIONS.len(),
        "every document against every version:\n{stdout}"
    );
}

/// The one object of a kind.
fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind} in deploy/kubernetes/, found {}", found.len());
    found[0]
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn array<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("{what} is not a list: {v}"))
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    array(v, what).iter().map(|s| str_of(s, what).to_owned()).collect()
}

/// A Kubernetes memory quantity in MiB (the binary suffixes; what the manifests use).
fn mebibytes(quantity: &str) -> u64 {
    let (number, unit) = quantity.split_at(quantity.find(|c: char| !c.is_ascii_digit()).unwrap_or(quantity.len()));
    let n: u64 = number.parse().unwrap_or_else(|_| panic!("memory quantity {quantity:?}"));
    match unit {
        "Mi" => n,
        "Gi" => n * 1024,
        "Ti" => n * 1024 * 1024,
        _ => panic!("memory quantity {quantity:?}: give it in Mi, Gi or Ti"),
    }
}

/// A Dockerfile instruction's argument, the instruction given exactly once.
fn instruction<'a>(dockerfile: &'a str, name: &str) -> &'a str {
    let found: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix(name).filter(|rest| rest.starts_with(' ')).map(str::trim))
        .collect();
    assert_eq!(found.len(), 1, "the Dockerfile should have one {name}, has {found:?}");
    found[0]
}

fn exec_form(dockerfile: &str, name: &str) -> Vec<String> {
    let arg = instruction(dockerfile, name);
    serde_json::from_str(arg).unwrap_or_else(|e| panic!("Dockerfile {name} {arg}: not the exec (JSON) form: {e}"))
}

#[test]
fn manifests_and_dockerfile_agree_with_the_host() {
    let docs = documents();
    let config_map = one(&docs, "ConfigMap");
    let secret = one(&docs, "Secret");
    let deployment = one(&docs, "Deployment");
    let service = one(&docs, "Service");
    let pdb = one(&docs, "PodDisruptionBudget");
    let namespace = str_of(&deployment["metadata"]["namespace"], "the Deployment's namespace");
    for doc in &docs {
        if doc["kind"] != "Namespace" {
            assert_eq!(doc["metadata"]["namespace"], namespace, "{} in another namespace", doc["metadata"]["name"]);
        }
    }

    // The configuration, through the host's own loader (with its checks), from the file the pod reads.
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = array(&pod["containers"], "containers");
    assert_eq!(containers.len(), 1, "one container");
    let container = &containers[0];
    let volumes = array(&pod["volumes"], "volumes");
    let mounts = array(&container["volumeMounts"], "volumeMounts");
    let mount_of = |volume: &Value| -> String {
        let name = &volume["name"];
        let mount = mounts.iter().find(|m| m["name"] == *name).unwrap_or_else(|| panic!("volume {name} not mounted"));
        str_of(&mount["mountPath"], "mountPath").trim_end_matches('/').to_owned()
    };
    let config_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == config_map["metadata"]["name"])
        .expect("a volume of the ConfigMap");
    let keys: Vec<&String> = config_map["data"].as_object().expect("ConfigMap data").keys().collect();
    assert_eq!(keys, ["wasmcc.toml"], "the ConfigMap holds the host's configuration");
    let config_path = format!("{}/wasmcc.toml", mount_of(config_volume));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wasmcc.toml");
    std::fs::write(&file, str_of(&config_map["data"]["wasmcc.toml"], "wasmcc.toml")).unwrap();
    let config = Config::load(&file).unwrap_or_else(|e| panic!("the ConfigMap's wasmcc.toml: {e}"));

    // The admin API is reached from outside the pod (builders, through the Service): on every address, hence with TLS
    // (plain HTTP is loopback only).
    let admin_port = config.admin.listen.port();
    assert!(
        config.admin.listen.ip().is_unspecified(),
        "admin.listen {} is not reachable from the Service",
        config.admin.listen
    );
    let admin_tls = config.admin.tls_cert.is_some();
    if !admin_tls {
        wasmcc_host::admin::plain_http_allowed(config.admin.listen)
            .unwrap_or_else(|e| panic!("the host would refuse to start: {e}"));
    }
    for path in [&config.admin.tls_cert, &config.admin.tls_key].into_iter().flatten() {
        let secret_volume = volumes
            .iter()
            .filter(|v| v["secret"]["secretName"].is_string())
            .find(|v| path.starts_with(mount_of(v)))
            .unwrap_or_else(|| panic!("{} is on no Secret volume", path.display()));
        let key = path.strip_prefix(mount_of(secret_volume)).unwrap().to_str().unwrap().to_owned();
        assert!(["tls.crt", "tls.key"].contains(&key.as_str()), "{key}: a kubernetes.io/tls Secret's keys");
    }
    // The probes and the scrape: the [metrics] listener, plain HTTP on every address, so that neither needs the admin
    // API's certificate.
    let metrics_listen = config.metrics.listen.expect("[metrics] listen set: the probes and Prometheus use it");
    let metrics_port = metrics_listen.port();
    assert!(metrics_listen.ip().is_unspecified(), "metrics.listen {metrics_listen} is not reachable from the kubelet");
    assert!(config.chaincodes.listen_ip.is_unspecified(), "chaincode listeners must be reachable from the Service");
    let service_name = str_of(&service["metadata"]["name"], "the Service's name");
    assert_eq!(
        config.advertise_host(),
        format!("{service_name}.{namespace}.svc.cluster.local"),
        "peers dial what the host advertises: the Service's DNS name"
    );
    // The root file system is read-only: the data directory must be a volume.
    let data_dir = config.data_dir.to_str().unwrap();
    assert!(
        volumes.iter().any(|v| v["emptyDir"].is_object() && mount_of(v) == data_dir),
        "data_dir {data_dir} is not a writable volume of the pod"
    );

    // The command: a real subcommand of this binary with real flags, and the configuration where it is mounted.
    let command = strings(&container["command"], "command");
    let args = strings(&container["args"], "args");
    assert_eq!(command, ["wasmcc"]);
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wasmcc")).args(args).output().expect("running wasmcc");
        assert!(out.status.success(), "wasmcc {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let subcommand = args[0].as_str();
    assert!(
        help(&["--help"]).lines().any(|l| l.split_whitespace().next() == Some(subcommand)),
        "wasmcc has no subcommand {subcommand}"
    );
    let sub_help = help(&[subcommand, "--help"]);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            sub_help.split(|c: char| c.is_whitespace() || c == ',' || c == '=').any(|w| w == flag),
            "wasmcc {subcommand} has no flag {flag}:\n{sub_help}"
        );
    }
    let config_arg = args.iter().position(|a| a == "--config").expect("--config");
    assert_eq!(args[config_arg + 1], config_path, "--config names where the ConfigMap is mounted");

    // Ports: the container's, the Service's and the probes' are the configuration's.
    let chaincode_ports: BTreeSet<u16> = (config.chaincodes.port_min..=config.chaincodes.port_max).collect();
    let mut expected = chaincode_ports.clone();
    expected.insert(admin_port);
    assert!(
        !expected.contains(&metrics_port),
        "metrics.listen's port {metrics_port} is the admin port or a chaincode port"
    );
    let declared = array(&container["ports"], "ports");
    let port_names: BTreeMap<String, u16> = declared
        .iter()
        .map(|p| (str_of(&p["name"], "port name").to_owned(), p["containerPort"].as_u64().unwrap() as u16))
        .collect();
    let container_ports: BTreeSet<u16> = port_names.values().copied().collect();
    assert_eq!(container_ports.len(), declared.len(), "container ports: each once, under a name of its own");
    let mut expected_container = expected.clone();
    expected_container.insert(metrics_port);
    assert_eq!(
        container_ports, expected_container,
        "container ports: the admin port, the metrics port and every chaincode port"
    );
    assert_eq!(port_names.get("admin"), Some(&admin_port));
    assert_eq!(port_names.get("metrics"), Some(&metrics_port));
    let resolve = |port: &Value| -> u16 {
        match port {
            Value::Number(n) => n.as_u64().unwrap() as u16,
            Value::String(name) => *port_names.get(name).unwrap_or_else(|| panic!("no container port named {name}")),
            other => panic!("port {other}"),
        }
    };
    let mut service_ports = BTreeSet::new();
    for p in array(&service["spec"]["ports"], "Service ports") {
        let port = p["port"].as_u64().unwrap() as u16;
        assert_eq!(resolve(&p["targetPort"]), port, "Service port {port} must reach the same port of the pod");
        service_ports.insert(port);
    }
    // Not the metrics port: the kubelet and Prometheus reach it at each pod's address.
    assert_eq!(service_ports, expected, "Service ports: the admin port and every chaincode port peers may be sent to");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (key, value) in service["spec"]["selector"].as_object().expect("Service selector") {
        assert_eq!(&pod_labels[key], value, "the Service selects the pods");
    }
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(resolve(&get["port"]), metrics_port, "{probe} on the metrics listener");
        assert_eq!(get["scheme"], "HTTP", "{probe}: the metrics listener speaks plain HTTP");
    }
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(annotations["prometheus.io/port"], metrics_port.to_string(), "Prometheus scrapes the metrics listener");
    assert_eq!(annotations["prometheus.io/scheme"], "http", "the metrics listener speaks plain HTTP");

    // Stopping: the host drains on SIGTERM itself (as PID 1), then gives admin requests in flight a grace of their
    // own; the kubelet's SIGKILL must come after both.
    assert!(pod["shareProcessNamespace"] != true, "no shared process namespace: wasmcc handles SIGTERM as PID 1");
    let grace_ms = pod["terminationGracePeriodSeconds"].as_u64().expect("terminationGracePeriodSeconds") * 1000;
    let drain_ms = config.connections.drain_timeout_ms;
    let stop_ms = wasmcc_host::limits::ADMIN_SHUTDOWN_GRACE.as_millis() as u64;
    assert!(
        grace_ms > drain_ms + stop_ms,
        "terminationGracePeriodSeconds ({grace_ms} ms) must exceed connections.drain_timeout_ms ({drain_ms} ms) plus \
         the admin API's stop ({stop_ms} ms), or SIGKILL cuts the drain short"
    );

    // The token: the Secret's key is what the container maps into $WASMCC_ADMIN_TOKEN.
    let env = array(&container["env"], "env");
    let token = env.iter().find(|e| e["name"] == "WASMCC_ADMIN_TOKEN").expect("WASMCC_ADMIN_TOKEN in env");
    let reference = &token["valueFrom"]["secretKeyRef"];
    assert_eq!(reference["name"], secret["metadata"]["name"], "WASMCC_ADMIN_TOKEN from the Secret");
    let key = str_of(&reference["key"], "secretKeyRef key");
    assert!(secret["stringData"][key].is_string() || secret["data"][key].is_string(), "the Secret has no key {key}");
    assert_eq!(config.admin.token, None, "a token in the ConfigMap would override the Secret's");
    // The shared store, likewise: its connection string holds a password, so it comes from the Secret.
    let store = env.iter().find(|e| e["name"] == "WASMCC_STORE_POSTGRES").expect("WASMCC_STORE_POSTGRES in env");
    let reference = &store["valueFrom"]["secretKeyRef"];
    assert_eq!(reference["name"], secret["metadata"]["name"], "WASMCC_STORE_POSTGRES from the Secret");
    let key = str_of(&reference["key"], "secretKeyRef key");
    assert!(secret["stringData"][key].is_string() || secret["data"][key].is_string(), "the Secret has no key {key}");
    assert!(config.store.postgres.is_none(), "a connection string in the ConfigMap would override the Secret's");

    // Memory: the pod's limit holds every transaction the quota admits at once, and the host.
    let memory_mb = config.quota.memory_mb.expect("[quota] memory_mb set explicitly, consistent with the pod's limit");
    let per_transaction_mb = (config.limits.memory_bytes >> 20) as u64;
    assert!(
        memory_mb >= per_transaction_mb,
        "quota.memory_mb {memory_mb} admits no transaction of {per_transaction_mb} MiB"
    );
    let resources = &container["resources"];
    let limit = mebibytes(str_of(&resources["limits"]["memory"], "limits.memory"));
    assert!(
        limit >= memory_mb + 100,
        "limits.memory {limit} MiB must exceed quota.memory_mb {memory_mb} MiB + ~100 MiB"
    );
    assert!(resources["requests"]["memory"].is_string() && resources["requests"]["cpu"].is_string(), "requests");
    assert!(resources["limits"]["cpu"].is_string(), "a CPU limit (the host sizes its guest threads from it)");

    // Non-root, read-only, no capabilities, default seccomp.
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let uid = security["runAsUser"].as_u64().expect("a numeric runAsUser");
    assert_ne!(uid, 0);

    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], deployment["spec"]["selector"], "the budget covers the Deployment's pods");

    // The image: what the Deployment runs, on the ports the configuration has, as the same non-root user.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile at the repository root");
    let exposed: BTreeSet<u16> = instruction(&dockerfile, "EXPOSE")
        .split_whitespace()
        .map(|p| p.parse().unwrap_or_else(|_| panic!("Dockerfile EXPOSE {p}: a TCP port number")))
        .collect();
    assert_eq!(
        exposed,
        BTreeSet::from([admin_port, metrics_port]),
        "the Dockerfile EXPOSEs the admin and metrics ports"
    );
    assert_eq!(exec_form(&dockerfile, "ENTRYPOINT"), command, "ENTRYPOINT is the Deployment's command");
    assert_eq!(exec_form(&dockerfile, "CMD"), args, "CMD is the Deployment's args, config path included");
    let user = instruction(&dockerfile, "USER");
    assert_eq!(user.split(':').next(), Some(uid.to_string().as_str()), "the image's USER is the pod's runAsUser");
    assert!(root().join(".dockerignore").exists(), ".dockerignore keeps target/ out of the context");
}
