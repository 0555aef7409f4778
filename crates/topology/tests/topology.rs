//! The shipped topology, a region added by a file, and every refusal with its file.

use egov_topology::{Kind, Topology, shipped_dir};

const ULYTAU: &str = r#"
[region]
code = "ulytau"
name = "Улытауская область"

[[gateways]]
id = "rshep-ulytau"
lane = "РШЭП Улытауской области"
organization = "Акимат Улытауской области (test)"
bin = "000140000199"
grpc_port = 7104
http_port = 7114

[[systems]]
id = "mio-ulytau"
kind = "mio-is"
lane = "ИС МИО Улытауской области"
organization = "Отдел жилищных отношений Улытауской области (test)"
bin = "000140000198"
gateway = "rshep-ulytau"
grpc_port = 7303
http_port = 7383
regulations = ["ulytau-2026-housing-queue.toml"]
"#;

fn shipped_files() -> Vec<(String, String)> {
    let dir = shipped_dir();
    let mut files = vec![(
        "national.toml".to_string(),
        std::fs::read_to_string(dir.join("national.toml")).unwrap(),
    )];
    for r in ["almaty", "atyrau", "nko"] {
        files.push((
            format!("regions/{r}.toml"),
            std::fs::read_to_string(dir.join(format!("regions/{r}.toml"))).unwrap(),
        ));
    }
    files
}

#[test]
fn the_shipped_topology_is_the_folder() {
    let t = Topology::shipped();
    assert_eq!(Topology::load(&shipped_dir()).unwrap(), t);
    assert_eq!(t.central().id, "shep");
    let regions: Vec<&str> = t.regions.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(regions, ["almaty", "atyrau", "nko"]);
    for r in &regions {
        let g = t.gateway_of_region(r).unwrap();
        assert_eq!(g.id, format!("rshep-{r}"));
        let mio = t.regional(Kind::MioIs, r).unwrap();
        assert_eq!(mio.gateway, g.id);
        assert!(!mio.regulations.is_empty());
        // every regulation the topology names exists and is that system's
        for file in &mio.regulations {
            let text = std::fs::read_to_string(shipped_dir().join("../../regulations").join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(text.contains(&format!("system = \"{}\"", mio.id)), "{file}");
            assert!(text.contains(&format!("region = \"{r}\"")), "{file}");
        }
    }
    // the four gateways and the eight systems each get an identity
    let ids: Vec<String> = t.identities().into_iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert_eq!(t.grpc_port("rshep-nko"), Some(7103));
    assert_eq!(t.http_port("mio-atyrau"), Some(7381));
    assert_eq!(t.system("gbd-fl").unwrap().kind, Kind::GbdFl);
}

#[test]
fn a_region_is_one_more_file() {
    let dir = tempfile::tempdir().unwrap();
    let regions = dir.path().join("regions");
    std::fs::create_dir_all(&regions).unwrap();
    for (name, text) in shipped_files() {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(regions.join("ulytau.toml"), ULYTAU).unwrap();
    let t = Topology::load(dir.path()).unwrap();
    assert_eq!(t.regions.len(), 4);
    let mio = t.regional(Kind::MioIs, "ulytau").unwrap();
    assert_eq!(mio.id, "mio-ulytau");
    assert_eq!(mio.region.as_deref(), Some("ulytau"));
    assert_eq!(
        t.gateway("rshep-ulytau").unwrap().region.as_deref(),
        Some("ulytau")
    );
    assert_eq!(t.identities().len(), 14);
}

/// The shipped files with `region` added (or a file replaced), and the error text.
fn refused(edit: impl FnOnce(&mut Vec<(String, String)>)) -> String {
    let mut files = shipped_files();
    edit(&mut files);
    Topology::from_files(files).unwrap_err().to_string()
}

fn with_region(text: &str) -> impl FnOnce(&mut Vec<(String, String)>) {
    let text = text.to_string();
    move |f| f.push(("regions/ulytau.toml".into(), text))
}

#[test]
fn every_inconsistency_is_refused_with_its_file() {
    let cases: Vec<(String, &str)> = vec![
        (
            refused(with_region(&ULYTAU.replace("mio-ulytau", "mio-almaty"))),
            "topology regions/ulytau.toml: \"mio-almaty\" appears twice",
        ),
        (
            refused(with_region(&ULYTAU.replace("7303", "7300"))),
            "topology regions/ulytau.toml: mio-ulytau: port 7300 is already mio-almaty's",
        ),
        (
            refused(with_region(&ULYTAU.replace(
                "gateway = \"rshep-ulytau\"",
                "gateway = \"rshep-almaty\"",
            ))),
            "topology regions/ulytau.toml: mio-ulytau: registered on rshep-almaty, a gateway of another region",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("code = \"ulytau\"", "code = \"almaty\""),
            )),
            "topology regions/ulytau.toml: region \"almaty\" appears twice",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("code = \"ulytau\"", "code = \"Kyzyl Zhar\""),
            )),
            "topology regions/ulytau.toml: region code: \"Kyzyl Zhar\" is not a code",
        ),
        (
            refused(with_region(&ULYTAU.replace("000140000198", "14000019"))),
            "topology regions/ulytau.toml: mio-ulytau: bin \"14000019\" is not 12 digits",
        ),
        (
            refused(with_region(&ULYTAU.replace(
                "regulations = [\"ulytau-2026-housing-queue.toml\"]",
                "regulations = []",
            ))),
            "topology regions/ulytau.toml: mio-ulytau: an ИС МИО runs at least one regulation file",
        ),
        (
            refused(with_region(&ULYTAU.replace(
                "ulytau-2026-housing-queue.toml\"]",
                "../etc/passwd\"]",
            ))),
            "topology regions/ulytau.toml: mio-ulytau: regulation \"../etc/passwd\" is not a file name ending in .toml",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("kind = \"mio-is\"", "kind = \"gbd-fl\""),
            )),
            "topology regions/ulytau.toml: mio-ulytau: a gbd-fl belongs to the national file",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("kind = \"mio-is\"", "kind = \"mainframe\""),
            )),
            "topology regions/ulytau.toml: unknown variant `mainframe`",
        ),
        (
            refused(with_region(&ULYTAU.replace("[region]", "[place]"))),
            "topology regions/ulytau.toml: unknown field `place`",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("grpc_port = 7104", "grpc_port = 0"),
            )),
            "topology regions/ulytau.toml: rshep-ulytau: port 0 is not a fixed port",
        ),
        (
            refused(with_region(
                &ULYTAU.replace("grpc_port = 7104", "grpc_port = 70000"),
            )),
            "topology regions/ulytau.toml:",
        ),
        (
            refused(|f| f[0].1.push_str("\n[region]\ncode = \"x\"\nname = \"x\"\n")),
            "topology national.toml: the national file has no [region]",
        ),
        (
            refused(|f| {
                f[1].1 = f[1]
                    .1
                    .replace("[region]\ncode = \"almaty\"\nname = \"г. Алматы\"\n", "")
            }),
            "topology regions/almaty.toml: a region's file needs [region]",
        ),
        (
            refused(|f| {
                f[0].1 = f[0].1.replace(
                    "gateway = \"shep\"\ngrpc_port = 7200",
                    "gateway = \"rshep-nowhere\"\ngrpc_port = 7200",
                )
            }),
            "topology national.toml: gbd-fl: unknown gateway \"rshep-nowhere\"",
        ),
        (
            refused(|f| {
                f[0].1 = f[0].1.replace(
                    "[[gateways]]\nid = \"shep\"",
                    "[[gateways]]\nid = \"shep-2\"",
                ) + "\n[[gateways]]\nid = \"shep\"\nlane = \"x\"\norganization = \"x\"\nbin = \"000140000190\"\ngrpc_port = 7190\nhttp_port = 7191\n"
            }),
            "topology national.toml: exactly one central gateway is needed, found 2",
        ),
        (
            refused(|f| {
                f[3].1 = f[3].1.replace(
                    "id = \"mio-nko\"\nkind = \"mio-is\"",
                    "id = \"mio-nko\"\nkind = \"mio-is\"\nweight = 3",
                )
            }),
            "topology regions/nko.toml: unknown field `weight`",
        ),
    ];
    for (got, want) in cases {
        assert!(got.starts_with(want), "got {got:?}\nwant {want:?}");
    }
}

#[test]
fn a_missing_folder_names_its_path() {
    let err = Topology::load(std::path::Path::new("/nonexistent/topology")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("topology /nonexistent/topology/national.toml:"),
        "{err}"
    );
}
