//! `decrypt` writes a volume's plaintext, which standard tools read: FORMAT.md's claim that data
//! can be recovered with `zstd` and `tar` (plus the decryptor) holds.

use crate::common;

use std::process::Command;

use common::Project;

#[test]
fn a_decrypted_volume_unpacks_with_zstd_and_tar() {
    let p = Project::new("");
    p.write("notes/a.txt", "alpha\n");
    p.write("notes/b.bin", vec![7u8; 300_000]);
    p.init();
    let b = p.backup("full");
    let id = b["backup_id"].as_str().unwrap();

    let out = p.root().join("vol0.tar.zst");
    let v = p.json(
        &[
            "decrypt",
            "--backup-id",
            id,
            "--volume",
            "0",
            "--output",
            out.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(v["volume"], "vol-00000", "{v}");
    assert!(v["bytes"].as_u64().unwrap() > 0, "{v}");

    let unpack = p.root().join("unpacked");
    std::fs::create_dir_all(&unpack).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -q -d < '{}' | tar -x -C '{}'",
            out.display(),
            unpack.display()
        ))
        .status()
        .expect("run zstd and tar");
    assert!(status.success(), "zstd | tar failed");
    assert_eq!(
        std::fs::read(unpack.join("data/notes/a.txt")).unwrap(),
        b"alpha\n"
    );
    assert_eq!(
        std::fs::read(unpack.join("data/notes/b.bin")).unwrap(),
        vec![7u8; 300_000]
    );
}

#[test]
fn decrypt_refuses_a_missing_volume_and_never_overwrites() {
    let p = Project::new("");
    p.write("x.txt", "x");
    p.init();
    p.backup("full");
    let out = p.root().join("v.tar.zst");
    let o = p.run(&[
        "decrypt",
        "--volume",
        "7",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no volume 7"));
    assert!(!out.exists(), "a failed decrypt left its output file");
    std::fs::write(&out, "keep me").unwrap();
    let o = p.run(&["decrypt", "--output", out.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
}
