"""WAL change detection, measured: the same 100-row change (one connection holds the database in
WAL mode, no checkpoints), an incremental with the WAL naming the changed pages (A: the full saw
the WAL) against one without (B: the full saw no WAL). 3 alternating trials, the repository reset
between them. Usage (after `cargo build --release` and a database benchmark run with
MAHAVISHNU_BENCH_DIR=<work>):

    python3 benches/wal_change_detection.py <work>/database-pristine/app.sqlite /tmp/walx
"""
import json, os, shutil, sqlite3, subprocess, sys
B = os.environ.get("MAHAVISHNU_DR_BIN", "target/release/mahavishnu-dr")
SRC = sys.argv[1]
D = sys.argv[2]
shutil.rmtree(D, ignore_errors=True)
def setup(p):
    os.makedirs(f"{D}/{p}/data"); os.makedirs(f"{D}/{p}/settings")
    shutil.copy(SRC, f"{D}/{p}/data/app.db")
    open(f"{D}/{p}/settings/mahavishnu.yaml", "w").write(f"""backup:
  directory: "{D}/{p}/repo"
  sources: ["{D}/{p}/data"]
  encryption: {{ enabled: true, key_path: "{D}/{p}/key" }}
  validation: {{ verify_on_create: false }}
disaster_recovery:
  restore_test: {{ scratch_dir: "{D}/{p}/scratch" }}
""")
    subprocess.run([B, "--config", f"{D}/{p}/settings/mahavishnu.yaml", "init", "--generate-key"], capture_output=True, check=True)
def run(p, t):
    r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", B, "--config", f"{D}/{p}/settings/mahavishnu.yaml", "backup", "run", "--backup-type", t, "--json"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout), r.stderr.strip().splitlines()[-1]
def conn(p):
    c = sqlite3.connect(f"{D}/{p}/data/app.db", isolation_level=None)
    c.execute("pragma wal_autocheckpoint=0")
    return c
def change(c):
    n = c.execute("select max(id) from records").fetchone()[0]
    for k in range(100):
        c.execute("update records set title=? where id=?", ("changed %d" % k, 1 + k * n // 100))
for p in "ab": setup(p)
ca = conn("a"); ca.execute("update records set title='held' where id=1")
run("a", "full"); change(ca)
run("b", "full"); cb = conn("b"); change(cb)
for p in "ab": shutil.copytree(f"{D}/{p}/repo", f"{D}/{p}/repo.base")
for t in range(3):
    for p in "ab":
        shutil.rmtree(f"{D}/{p}/repo"); shutil.copytree(f"{D}/{p}/repo.base", f"{D}/{p}/repo")
        for f in os.listdir(f"{D}/{p}/data"):
            with open(f"{D}/{p}/data/{f}", "rb") as fh:
                while fh.read(1 << 24): pass
        v, tm = run(p, "incremental")
        w, u, s, rss = tm.split()
        tt = v["totals"]
        print(f"{p} wall {w} s cpu {float(u)+float(s):.2f} s rss {int(rss)//1024} MiB blocks {tt['blocks_read']} hashed {tt['blocks_hashed']} stored {tt['blocks_stored']} ({tt['bytes_stored_content']} bytes)", flush=True)
