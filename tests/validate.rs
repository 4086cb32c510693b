//! `backup validate` at its three levels against real damage: a flipped byte, a truncated and a
//! deleted volume; keyless checksum validation; sampling; and a restore that meets the damage.

use crate::common;
use crate::dr_util;

use common::Project;
use dr_util::*;
use serde_json::Value;

const VOLUMES: usize = 4;

/// A project with one full backup of four 600 KiB files in `volume_size_mb: 1`, so each file
/// gets its own volume (volumes split by input size; the data compresses, which keeps it quick). Returns the project and the backup id.
fn backed_up() -> (Project, String) {
    let p = Project::new("  volume_size_mb: 1\n");
    for i in 0..VOLUMES {
        p.write(&format!("part-{i}.bin"), patterned(i as u64 + 1, 600 << 10));
    }
    p.init();
    let b = p.backup("full");
    let id = b["backup_id"].as_str().unwrap().to_string();
    assert_eq!(b["volumes"], VOLUMES as u64, "{b}");
    assert_eq!(volumes(&p, &id).len(), VOLUMES);
    (p, id)
}

fn validate(p: &Project, level: &str, want: i32) -> Value {
    json_run(p, &["backup", "validate", "--level", level], want).0
}

fn problems(v: &Value) -> &Vec<Value> {
    v["problems"].as_array().expect("problems is a list")
}

/// The problems that name volume `vol` of backup `id`.
fn naming<'a>(v: &'a Value, id: &str, vol: &str) -> Vec<&'a Value> {
    problems(v)
        .iter()
        .filter(|p| p["backup_id"] == id && p["volume"] == vol)
        .collect()
}

#[test]
fn a_good_repository_passes_every_level() {
    let (p, id) = backed_up();
    for level in ["quick", "checksum", "full"] {
        let v = validate(&p, level, 0);
        assert_eq!(v["ok"], true, "{level}: {v}");
        assert!(problems(&v).is_empty(), "{level}: {v}");
        assert_eq!(v["backups_checked"], 1, "{level}: {v}");
        assert_eq!(v["volumes_checked"], VOLUMES as u64, "{level}: {v}");
        assert_eq!(v["backups"][0]["backup_id"], id.as_str(), "{level}: {v}");
    }
    let full = validate(&p, "full", 0);
    assert_eq!(full["files_checked"], VOLUMES as u64, "{full}");
    let stored: u64 = volumes(&p, &id)
        .iter()
        .map(|v| std::fs::metadata(v).unwrap().len())
        .sum();
    assert!(
        full["bytes_read"].as_u64().unwrap() >= stored,
        "full validation read less than the volumes hold: {full}"
    );
}

#[test]
fn a_flipped_byte_fails_checksum_and_full_naming_the_volume() {
    let (p, id) = backed_up();
    let vol = &volumes(&p, &id)[1];
    let len = std::fs::metadata(vol).unwrap().len() as usize;
    flip_byte(vol, len / 2);

    for level in ["checksum", "full"] {
        let v = validate(&p, level, 1);
        assert_eq!(v["ok"], false, "{level}: {v}");
        assert!(
            !naming(&v, &id, "vol-00001").is_empty(),
            "{level}: no problem names {id} vol-00001: {v}"
        );
        for prob in problems(&v) {
            assert_eq!(
                prob["volume"], "vol-00001",
                "{level}: an undamaged volume is blamed: {v}"
            );
        }
        assert!(
            v["message"].as_str().unwrap().contains("FAILED"),
            "{level}: {v}"
        );
    }

    // Quick reads no contents: the size is right, so it passes; it still counted every volume.
    let q = validate(&p, "quick", 0);
    assert_eq!(q["ok"], true, "{q}");
    assert_eq!(q["volumes_checked"], VOLUMES as u64, "{q}");
    assert_eq!(q["bytes_read"], 0, "quick level read volume contents: {q}");
}

#[test]
fn a_truncated_volume_fails_quick_with_its_size() {
    let (p, id) = backed_up();
    let vol = &volumes(&p, &id)[2];
    let len = std::fs::metadata(vol).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(vol).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    let v = validate(&p, "quick", 1);
    let named = naming(&v, &id, "vol-00002");
    assert_eq!(named.len(), 1, "{v}");
    let text = named[0]["problem"].as_str().unwrap();
    assert!(
        text.contains(&(len / 2).to_string()) && text.contains(&len.to_string()),
        "the problem should give the size found and the size expected: {text}"
    );
    assert!(text.contains("truncated"), "{text}");
    // Deeper levels find it too.
    for level in ["checksum", "full"] {
        let v = validate(&p, level, 1);
        assert!(!naming(&v, &id, "vol-00002").is_empty(), "{level}: {v}");
    }
}

#[test]
fn a_deleted_volume_is_named_missing() {
    let (p, id) = backed_up();
    std::fs::remove_file(&volumes(&p, &id)[3]).unwrap();
    for level in ["quick", "checksum", "full"] {
        let v = validate(&p, level, 1);
        let named = naming(&v, &id, "vol-00003");
        assert!(!named.is_empty(), "{level}: {v}");
        assert!(
            named
                .iter()
                .any(|n| n["problem"].as_str().unwrap().contains("missing")),
            "{level}: {v}"
        );
    }
}

#[test]
fn checksum_level_works_without_the_key() {
    let (p, id) = backed_up();
    let key = p.root().join("key");
    let away = p.root().join("key.off-host");
    std::fs::rename(&key, &away).unwrap();

    let v = validate(&p, "checksum", 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["volumes_checked"], VOLUMES as u64, "{v}");

    // Full level needs the key: exit 2, naming the key path.
    let o = p.run(&["backup", "validate", "--level", "full"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 2, "{}", shown(&o));
    assert!(
        stderr(&o).contains(&key.display().to_string()),
        "the error should name the key path {}:\n{}",
        key.display(),
        shown(&o)
    );

    // Keyless checksum validation still finds damage.
    let vol = &volumes(&p, &id)[1];
    let len = std::fs::metadata(vol).unwrap().len() as usize;
    flip_byte(vol, len / 2);
    let v = validate(&p, "checksum", 1);
    assert!(!naming(&v, &id, "vol-00001").is_empty(), "{v}");
}

#[test]
fn restore_of_a_damaged_backup_fails_naming_the_volume() {
    let (p, id) = backed_up();
    let vol = &volumes(&p, &id)[1];
    let len = std::fs::metadata(vol).unwrap().len() as usize;
    flip_byte(vol, len / 2);

    let target = p.root().join("restored");
    let o = p.run_restore(&id, &target, &[]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains("vol-00001"),
        "the error should name the damaged volume:\n{}",
        shown(&o)
    );
    // Whatever was written is whole and right: no file with the damaged volume's content.
    for (rel, bytes) in files_under(&target) {
        let i: u64 = rel
            .trim_start_matches("data/part-")
            .trim_end_matches(".bin")
            .parse()
            .unwrap_or_else(|_| panic!("unexpected file {rel} in the target"));
        assert_ne!(i, 1, "the file of the damaged volume was restored");
        assert!(bytes == patterned(i + 1, 600 << 10), "{rel} restored wrong");
    }
}

#[test]
fn sampling_reads_about_half_the_volumes() {
    let (p, _id) = backed_up();
    for level in ["checksum", "full"] {
        let v = json_run(
            &p,
            &["backup", "validate", "--level", level, "--sample", "50"],
            0,
        )
        .0;
        assert_eq!(v["ok"], true, "{level}: {v}");
        assert_eq!(
            v["volumes_checked"],
            (VOLUMES / 2) as u64,
            "{level}: 50 % of {VOLUMES} volumes: {v}"
        );
    }
    // Out of range is a usage error.
    let o = p.run(&["backup", "validate", "--level", "full", "--sample", "0"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 2, "{}", shown(&o));
}

#[test]
fn each_backup_reports_what_was_checked_of_it() {
    let (p, id) = backed_up();
    p.write("part-9.bin", patterned(99, 600 << 10));
    let second = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    for level in ["checksum", "full"] {
        let v = validate(&p, level, 0);
        assert_eq!(
            v["volumes_checked"],
            (2 * VOLUMES + 1) as u64,
            "{level}: {v}"
        );
        let per = v["backups"].as_array().unwrap();
        assert_eq!(per.len(), 2, "{level}: {v}");
        for (b, vols) in [(&id, VOLUMES), (&second, VOLUMES + 1)] {
            let c = per.iter().find(|c| c["backup_id"] == b.as_str()).unwrap();
            assert_eq!(
                c["volumes_checked"], vols as u64,
                "{level}: backups[].volumes_checked of {b} should count its volumes: {v}"
            );
            if level == "full" {
                assert_eq!(c["files_checked"], vols as u64, "{level}: {b}: {v}");
            }
        }
    }
}

#[test]
fn a_partial_restore_around_a_damaged_volume_still_works() {
    let (p, id) = backed_up();
    let vol = &volumes(&p, &id)[1];
    let len = std::fs::metadata(vol).unwrap().len() as usize;
    flip_byte(vol, len / 2);
    // The files of undamaged volumes restore, verified.
    let target = p.root().join("partial");
    let (r, _) = json_run(
        &p,
        &[
            "restore",
            "--backup-id",
            &id,
            "--target",
            target.to_str().unwrap(),
            "--path",
            "data/part-0.bin",
            "--path",
            "data/part-3.bin",
        ],
        0,
    );
    assert_eq!(r["files"], 2, "{r}");
    for i in [0u64, 3] {
        let got = std::fs::read(target.join(format!("data/part-{i}.bin"))).unwrap();
        assert!(
            got == patterned(i + 1, 600 << 10),
            "part-{i} restored wrong"
        );
    }
    assert!(!target.join("data/part-1.bin").exists());
}

#[test]
fn an_edited_checksum_list_cannot_hide_damage_from_a_keyed_check() {
    let (p, id) = backed_up();
    let vol = &volumes(&p, &id)[1];
    let len = std::fs::metadata(vol).unwrap().len() as usize;
    flip_byte(vol, len / 2);
    // Make the keyless list agree with the damaged bytes.
    let list_path = backup_dir(&p, &id).join("checksums.json");
    let mut list: Value = serde_json::from_slice(&std::fs::read(&list_path).unwrap()).unwrap();
    let damaged = std::fs::read(vol).unwrap();
    for item in list["volumes"].as_array_mut().unwrap() {
        if item["name"] == "vol-00001" {
            item["sha256"] = mahavishnu_dr::internals::sha256_hex(&damaged).into();
        }
    }
    std::fs::write(&list_path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();

    for level in ["checksum", "full"] {
        let v = validate(&p, level, 1);
        assert!(!naming(&v, &id, "vol-00001").is_empty(), "{level}: {v}");
    }
}

#[test]
fn a_damaged_manifest_is_reported_and_its_backup_is_not_treated_as_an_orphan() {
    let (p, id) = backed_up();
    let manifest = backup_dir(&p, &id).join("manifest");
    let len = std::fs::metadata(&manifest).unwrap().len() as usize;
    flip_byte(&manifest, len / 2);
    for level in ["quick", "checksum", "full"] {
        let v = validate(&p, level, 1);
        assert!(
            !naming(&v, &id, "manifest").is_empty(),
            "{level}: the problem should name the manifest of {id}: {v}"
        );
    }
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["unreadable"][0]["backup_id"], id.as_str(), "{s}");
    assert!(
        s["unreadable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("fails authentication"),
        "{s}"
    );
    // Cleanup keeps what it cannot read, and says so; every volume stays.
    let (c, _) = json_run(&p, &["backup", "cleanup"], 0);
    assert!(
        c["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["backup_id"] != id.as_str()),
        "{c}"
    );
    assert!(c["warnings"].to_string().contains(&id), "{c}");
    assert_eq!(volumes(&p, &id).len(), VOLUMES);
}

#[test]
fn a_non_hex_digest_in_the_checksum_list_is_named_damage_not_a_crash() {
    let (p, id) = backed_up();
    let list_path = backup_dir(&p, &id).join("checksums.json");
    let mut list: Value = serde_json::from_slice(&std::fs::read(&list_path).unwrap()).unwrap();
    // 64 bytes of text whose 16th byte falls inside a character: cutting the text there for a
    // message used to panic.
    let bad = format!("a{}b", "é".repeat(31));
    assert_eq!(bad.len(), 64);
    for item in list["volumes"].as_array_mut().unwrap() {
        if item["name"] == "vol-00001" {
            item["sha256"] = bad.clone().into();
        }
    }
    std::fs::write(&list_path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    let stored_before = files_under(&p.repo().join("backups"));

    // Keyed and keyless: exit 1, the problem names the backup, the volume and what is wrong.
    let key = p.root().join("key");
    let away = p.root().join("key.off-host");
    for keyed in [true, false] {
        if !keyed {
            std::fs::rename(&key, &away).unwrap();
        }
        let v = validate(&p, "checksum", 1);
        assert_eq!(v["ok"], false, "keyed={keyed}: {v}");
        let named = naming(&v, &id, "vol-00001");
        assert!(
            named.iter().any(|pr| {
                let t = pr["problem"].as_str().unwrap();
                t.contains("checksum list is damaged") && t.contains("not a SHA-256 digest")
            }),
            "keyed={keyed}: the problem should say the list's digest is damaged: {v}"
        );
        for prob in problems(&v) {
            assert_eq!(prob["backup_id"], id.as_str(), "{v}");
            assert_eq!(
                prob["volume"], "vol-00001",
                "an undamaged volume is blamed: {v}"
            );
        }
        // The text face says it too.
        let o = p.run(&["backup", "validate", "--level", "checksum"]);
        assert_no_panic(&o);
        assert_eq!(code(&o), 1, "{}", shown(&o));
        assert!(
            stdout(&o).contains("vol-00001") && stdout(&o).contains("not a SHA-256 digest"),
            "{}",
            shown(&o)
        );
    }
    std::fs::rename(&away, &key).unwrap();

    // Nothing stored was changed or lost: the data itself is whole and restores.
    assert_eq!(files_under(&p.repo().join("backups")), stored_before);
    let full = validate(&p, "full", 0);
    assert_eq!(full["ok"], true, "{full}");
    let restored = p.restore(&id);
    common::assert_same_tree(&p.data(), &restored);
}
