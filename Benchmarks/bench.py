#!/usr/bin/env python3
"""Trove benchmark harness: every Trove figure next to a reference measured in the same run.

Datasets are deterministic and incompressible (AES-CTR keystream from openssl, fixed key).
Each case runs once to warm the page cache, then `--runs` times; the table shows medians.
Wall time and CPU come from the harness; peak RSS from wait4(2)'s ru_maxrss.
"""
import argparse, glob, os, platform, shutil, socket, statistics, subprocess, sys, tempfile, time

MiB = 1024 * 1024
GiB = 1024 * MiB


def keystream(path, size, seed):
    """Writes `size` incompressible, reproducible bytes."""
    key = f"{seed:032x}"
    with open(path, "wb") as out:
        enc = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", "0" * 32],
                               stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL)
        zero = bytes(4 * MiB)
        left = size
        while left > 0:
            chunk = zero[: min(left, len(zero))]
            enc.stdin.write(chunk)
            left -= len(chunk)
        enc.stdin.close()
        enc.wait()


def make_tree(root, spec, seed):
    """spec: list of (count, min_size, max_size)."""
    os.makedirs(root, exist_ok=True)
    import random
    rng = random.Random(seed)
    n = 0
    for count, lo, hi in spec:
        for _ in range(count):
            folder = os.path.join(root, f"d{n % 37:02d}", f"e{n % 11}")
            os.makedirs(folder, exist_ok=True)
            size = rng.randint(lo, hi)
            with open(os.path.join(folder, f"f{n:06d}.bin"), "wb") as f:
                f.write(rng.randbytes(size))
            n += 1
    return n


def tree_bytes(root):
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(root) for f in fs)


TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_once(cmd, env=None, cwd=None, setup=None, ok_codes=(0,)):
    """Wall time, CPU seconds and peak RSS of one run. RSS comes from GNU time when present
    (wait4's ru_maxrss would include this Python process's pages copied at fork)."""
    if setup:
        setup()
    if callable(cmd):
        cmd = cmd()
    argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    if TIME:
        argv = [TIME, "-f", "TROVEBENCH %M"] + argv
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        raise RuntimeError(f"{cmd} exited {code}: {err[-500:]}")
    rss = usage.ru_maxrss * 1024
    for line in err.splitlines():
        if line.startswith("TROVEBENCH "):
            rss = int(line.split()[1]) * 1024
    return wall, usage.ru_utime + usage.ru_stime, rss


def measure(cmd, runs, env=None, cwd=None, setup=None, ok_codes=(0,)):
    run_once(cmd, env, cwd, setup, ok_codes)  # warm-up
    samples = [run_once(cmd, env, cwd, setup, ok_codes) for _ in range(runs)]
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
            max(s[2] for s in samples))


class Report:
    def __init__(self):
        self.rows = []
        self.skipped = []
        self.notes = []

    def add(self, case, tool, size, result, ref=None, reference=None):
        wall, cpu, rss = result
        if reference is None:
            reference = ref is None and not tool.startswith("trove")
        tput = size / wall / 1e6 if size else None
        ratio = None
        if ref is not None:
            ratio = ref[0] / wall  # >1: Trove faster
        self.rows.append((case, tool, wall, tput, cpu, rss, ratio, reference))
        line = f"{case:38s} {tool:32s} {wall:8.3f}s " + (f"{tput:9.1f} MB/s" if tput else " " * 14)
        line += f" cpu {cpu:7.2f}s rss {rss / MiB:7.1f} MiB" + (f"  ×{ratio:.2f} vs ref" if ratio else "")
        print(line, flush=True)

    def markdown(self):
        out = ["| case | tool | median wall | throughput | CPU | peak RSS | speed vs reference |",
               "|---|---|---:|---:|---:|---:|---:|"]
        for case, tool, wall, tput, cpu, rss, ratio, reference in self.rows:
            shown = f"{ratio:.2f}×" if ratio else ("reference" if reference else "—")
            out.append(f"| {case} | {tool} | {wall:.3f} s | {f'{tput:.0f} MB/s' if tput else '—'} | "
                       f"{cpu:.2f} s | {rss / MiB:.0f} MiB | {shown} |")
        return "\n".join(out)


class Moto:
    """A moto S3 server on a free loopback port, and fresh buckets on it."""

    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}

    def __init__(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        import boto3
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench-secret")
        self.count = 0

    def new_bucket(self):
        self.count += 1
        name = f"bench-{self.count}"
        self.s3.create_bucket(Bucket=name)
        return name

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def fill_catalog(path, n):
    """Writes n file rows (random IDs: `check` would flag them) with 1-3 copies each straight
    into a SQLite catalog whose stores exist; the triggers keep the totals."""
    import sqlite3, base64, random
    db = sqlite3.connect(path)
    stores = [row[0] for row in db.execute("SELECT id FROM stores")]
    rng = random.Random(9)
    b32 = lambda raw: base64.b32encode(raw).decode().lower().rstrip("=")
    rows, copies = [], []
    for i in range(n):
        fid = b32(rng.randbytes(32))
        rows.append((fid, 1000 + i, rng.randbytes(32), 1.8e9))
        for store in stores[: 1 + i % 3]:
            copies.append((fid, store, 1, 1.8e9, 1.8e9))
    db.executemany("INSERT INTO files (id, size, leaf_hashes, first_seen) VALUES (?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO copies (file_id, store_id, copies, mtime, verified) VALUES (?, ?, ?, ?, ?)", copies)
    db.execute("DELETE FROM journal")
    db.commit()
    db.close()


class Peer:
    """A second machine on loopback: a library running `trove serve --listen` that hosts
    "tank", restarted with a fresh tank folder per run, and pairing for client libraries."""

    def __init__(self, trove, data, env):
        self.trove, self.env = trove, dict(env, TROVE_MACHINE_NAME="nas")
        self.lib = os.path.join(data, "peer-server")
        shutil.rmtree(self.lib, ignore_errors=True)
        subprocess.run([trove, "init"], env=dict(self.env, TROVE_LIBRARY=self.lib), check=True, stdout=subprocess.DEVNULL)
        self.proc = None
        self.port = None
        self.count = 0

    def restart(self, tank, metrics=False):
        """metrics: also serve GET /v1/status and /metrics over plain HTTP on loopback (self.metrics_port)."""
        self.stop()
        shutil.rmtree(tank, ignore_errors=True)
        self.out = open(os.path.join(self.lib, "serve.out"), "w+")
        self.proc = subprocess.Popen([self.trove, "serve", "--library", self.lib, "--listen", "127.0.0.1:0",
                                      "--host-store", f"tank={tank}", "--interval", "3600"]
                                     + (["--metrics-port", "0"] if metrics else []),
                                     env=self.env, stdout=self.out, stderr=subprocess.DEVNULL)
        for _ in range(300):
            self.out.seek(0)
            text = self.out.read()
            if "listening on" in text and (not metrics or "metrics on" in text):
                self.port = int(text.split("https://127.0.0.1:")[1].split()[0])
                if metrics:
                    self.metrics_port = int(text.split("http://127.0.0.1:")[1].split("/")[0])
                return
            time.sleep(0.05)
        raise RuntimeError("trove serve did not start")

    def pair(self, lib):
        self.count += 1
        out = subprocess.run([self.trove, "peer", "invite", "--library", self.lib, "--label", f"c{self.count}", "--json"],
                             env=self.env, check=True, capture_output=True, text=True).stdout
        import json as _json
        code = _json.loads(out)["code"]
        subprocess.run([self.trove, "peer", "join", "--library", lib, f"https://127.0.0.1:{self.port}", code, "--label", "nas"],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)

    def rss(self):
        return self._status("VmRSS")

    def hwm(self):
        return self._status("VmHWM")

    def _status(self, key):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


class Sshd:
    """A private sshd on a free loopback port with throwaway keys, for rsync over ssh."""

    def __init__(self, data):
        self.dir = os.path.join(data, "sshd")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        os.makedirs("/run/sshd", exist_ok=True)
        for name in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.dir, name)], check=True)
        shutil.copy(os.path.join(self.dir, "user.pub"), os.path.join(self.dir, "authorized_keys"))
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir}/host\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys\nPasswordAuthentication no\nUsePAM no\n"
                    f"StrictModes no\nPermitRootLogin yes\nPidFile {self.dir}/pid\n")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config], stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(self.command().split() + ["root@127.0.0.1", "true"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("sshd did not start")

    def command(self):
        return (f"ssh -p {self.port} -i {self.dir}/user -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                f"-o BatchMode=yes -o LogLevel=ERROR")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trove", required=True)
    ap.add_argument("--quick", action="store_true", help="small datasets, 3 runs")
    ap.add_argument("--data", help="where datasets and stores go (default: a temp folder on /work or /tmp)")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--only", help="comma-separated case prefixes")
    ap.add_argument("--out", help="results file (default: Benchmarks/RESULTS.md)")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    data = args.data or tempfile.mkdtemp(prefix="trove-bench-", dir=os.environ.get("TMPDIR", "/tmp"))
    os.makedirs(data, exist_ok=True)
    trove = args.trove
    big_size = 512 * MiB if args.quick else 2 * GiB
    report = Report()
    have = lambda tool: shutil.which(tool) is not None
    only = args.only.split(",") if args.only else None
    wanted = lambda name: not only or any(name.startswith(p) for p in only)

    print(f"# data in {data}; {runs} runs after a warm-up; machine: {machine()}", flush=True)
    big = os.path.join(data, "big.bin")
    if not os.path.exists(big) or os.path.getsize(big) != big_size:
        keystream(big, big_size, 1)
    mixed = os.path.join(data, "mixed")
    if not os.path.exists(mixed):
        spec = [(2000, 1024, 64 * 1024), (200, 256 * 1024, 4 * MiB), (10, 16 * MiB, 48 * MiB)]
        if args.quick:
            spec = [(500, 1024, 64 * 1024), (50, 256 * 1024, 4 * MiB), (3, 16 * MiB, 32 * MiB)]
        make_tree(mixed, spec, 7)
    small = os.path.join(data, "small2000")
    if not os.path.exists(small):
        make_tree(small, [(2000, 1024, 64 * 1024)], 11)
    mixed_bytes, small_bytes = tree_bytes(mixed), tree_bytes(small)
    small_files = [os.path.join(d, f) for d, _, fs in os.walk(small) for f in fs]
    # Each run gets a new library and new store folders; old ones are removed only after the
    # case, because ext4 slows inode allocation right after many deletions (recently_deleted()).
    workdirs = []
    current = {}
    env = dict(os.environ, TROVE_LOG_LEVEL="error")

    def fresh_library(store_count=1, copies=3, keep_previous=True, encrypt=False, cloud=None):
        """keep_previous=False removes the previous run's folders first: right for a few large
        files (no inode churn), where keeping gigabytes of fresh page cache would only add
        memory pressure."""
        def setup():
            if not keep_previous:
                cleanup()
            root = os.path.join(data, f"run{len(workdirs)}{'b' if not keep_previous else ''}")
            workdirs.append(root)
            current["lib"] = os.path.join(root, "lib")
            current["stores"] = [os.path.join(root, f"store{i}") for i in range(store_count)]
            env["TROVE_LIBRARY"] = current["lib"]
            subprocess.run([trove, "init", "--copies", str(copies)], env=env, check=True, stdout=subprocess.DEVNULL)
            for i, store in enumerate(current["stores"]):
                os.makedirs(store)
                # The folders share the benchmark's disk; declared as drives of their own so
                # that copies between them count (heal would otherwise refuse to add any).
                subprocess.run([trove, "store", "add", store, "--label", f"s{i}", "--disk", f"bench{i}"]
                               + (["--encrypt"] if encrypt else []), env=env, check=True, stdout=subprocess.DEVNULL)
            if cloud:
                bucket = cloud.new_bucket()
                subprocess.run([trove, "store", "add", f"s3://{bucket}/trove", "--endpoint", cloud.endpoint, "--path-style",
                                "--label", "cloud"], env=env, check=True, stdout=subprocess.DEVNULL)
        return setup

    def cleanup():
        while workdirs:
            shutil.rmtree(workdirs.pop(), ignore_errors=True)

    renv = dict(os.environ, RESTIC_PASSWORD="bench")

    def new_restic_repo():
        """A fresh restic repository per run, in its own folder (removed by cleanup())."""
        root = os.path.join(data, f"run{len(workdirs)}")
        workdirs.append(root)
        renv["RESTIC_REPOSITORY"] = os.path.join(root, "restic-repo")
        subprocess.run(["restic", "init", "-q"], env=renv, check=True, stdout=subprocess.DEVNULL)

    # Hashing the large file.
    if wanted("hash"):
        case = f"hash {big_size // MiB} MiB file"
        ref = measure(["openssl", "dgst", "-sha256", big], runs)
        report.add(case, "openssl dgst -sha256", big_size, ref)
        report.add(case, "sha256sum", big_size, measure(["sha256sum", big], runs), ref)
        report.add(case, "trove hash", big_size, measure([trove, "hash", big], runs), ref)

    # Importing the large file into a store on the same disk.
    if wanted("add-big"):
        case = f"add {big_size // MiB} MiB file"
        ref = measure(["openssl", "dgst", "-sha256", big], runs)
        report.add(case, "openssl dgst -sha256", big_size, ref)
        copy = os.path.join(data, "copy.bin")
        cp_sum = f"cp {big} {copy} && sync {copy} && sha256sum {copy}"
        report.add(case, "cp + sync + sha256sum", big_size,
                   measure(cp_sum, runs, setup=lambda: os.path.exists(copy) and os.remove(copy)), ref)
        report.add(case, "trove add", big_size, measure([trove, "add", big], runs, env=env,
                                                        setup=fresh_library(keep_previous=False)), ref)
        cleanup()

    # Importing 2,000 small files.
    if wanted("add-small"):
        case = "add 2,000 small files"
        ref = measure(["sha256sum"] + small_files, runs)
        report.add(case, "sha256sum (all files)", small_bytes, ref)
        report.add(case, "trove add", small_bytes, measure([trove, "add", small], runs, env=env, setup=fresh_library()), ref)
        cleanup()

    # Importing the mixed tree, against restic's first backup.
    if wanted("add-mixed"):
        case = "add mixed tree"
        if have("restic"):
            ref = measure(["restic", "backup", "-q", mixed], runs, env=renv, setup=new_restic_repo)
            cleanup()
            report.add(case, "restic backup (first)", mixed_bytes, ref)
        else:
            report.skipped.append("restic (not installed): add mixed tree reference")
            ref = measure(["cp", "-r", mixed, os.path.join(data, "mixed-copy")], runs,
                          setup=lambda: shutil.rmtree(os.path.join(data, "mixed-copy"), ignore_errors=True))
            report.add(case, "cp -r", mixed_bytes, ref)
        report.add(case, "trove add", mixed_bytes, measure([trove, "add", mixed], runs, env=env, setup=fresh_library()), ref)
        cleanup()

    # Verifying a store holding the large file and the mixed tree.
    if wanted("verify"):
        case = "verify store"
        fresh_library()()
        subprocess.run([trove, "add", big, mixed], env=env, check=True, stdout=subprocess.DEVNULL)
        total = big_size + mixed_bytes
        objects = os.path.join(current["stores"][0], ".trove", "objects")
        files = [os.path.join(d, f) for d, _, fs in os.walk(objects) for f in fs]
        # trove verify reads the drive, not the page cache (O_DIRECT), so the fair reference is
        # openssl reading the same objects after they are dropped from the cache; the warm-cache
        # figure is shown too.
        def drop_cache():
            for path in files:
                fd = os.open(path, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
        warm = measure(["openssl", "dgst", "-sha256"] + files, runs)
        ref = measure(["openssl", "dgst", "-sha256"] + files, runs, setup=drop_cache)
        report.add(case, "openssl dgst -sha256 (objects, from the drive)", total, ref)
        report.add(case, "openssl dgst -sha256 (objects, page cache)", total, warm, reference=False)
        report.add(case, "trove verify (reads the drive)", total, measure([trove, "verify"], runs, env=env), ref)
        verified_store = objects

    # Healing: copy everything from one store to another, verified, against cp.
    if wanted("heal"):
        case = "heal to a second store"
        total = big_size + mixed_bytes
        if not wanted("verify"):
            fresh_library()()
            subprocess.run([trove, "add", big, mixed], env=env, check=True, stdout=subprocess.DEVNULL)
        objects = os.path.join(current["stores"][0], ".trove", "objects")
        copies = os.path.join(data, "cp-targets")
        counter = [0]

        def cp_setup():
            counter[0] += 1
            os.makedirs(copies, exist_ok=True)
        ref = measure(lambda: f"cp -r {objects} {copies}/{counter[0]} && sync -f {copies}", runs, setup=cp_setup)
        report.add(case, "cp -r + sync", total, ref)
        shutil.rmtree(copies, ignore_errors=True)
        cleanup()

        def heal_setup():
            fresh_library(2, copies=2)()
            subprocess.run([trove, "add", big, mixed, "--store", "s0"], env=env, check=True, stdout=subprocess.DEVNULL)
        report.add(case, "trove heal (read+write+verify)", total, measure([trove, "heal"], runs, env=env, setup=heal_setup), ref)
        cleanup()

    # Peak memory while importing files of growing size.
    if wanted("memory") and not args.quick:
        for size in (2 * GiB, 4 * GiB):
            path = os.path.join(data, f"mem-{size // GiB}g.bin")
            if not os.path.exists(path):
                keystream(path, size, size)
            result = run_once([trove, "add", path], env=env, setup=fresh_library(keep_previous=False))
            cleanup()
            report.add(f"memory: add {size // GiB} GiB file", "trove add", size, result)
            report.add(f"memory: hash {size // GiB} GiB file", "trove hash", size, run_once([trove, "hash", path]))
            os.remove(path)

    # Snapshots of a tree of many small files: first and unchanged, against restic.
    many = os.path.join(data, "tree100k" if not args.quick else "tree10k")
    many_count = 10_000 if args.quick else 100_000
    if wanted("snapshot") or wanted("find"):
        if not os.path.exists(many):
            make_tree(many, [(many_count, 100, 2000)], 13)
    heavy_runs = min(runs, 3)
    if wanted("snapshot"):
        case = f"snapshot {many_count:,}-file tree"
        many_bytes = tree_bytes(many)
        report.add(case, "find -type f (walk)", many_bytes, measure(f"find {many} -type f | wc -l", runs))
        if have("restic"):
            first_ref = measure(["restic", "backup", "-q", many], heavy_runs, env=renv, setup=new_restic_repo)
            report.add(case + " (first)", "restic backup", many_bytes, first_ref)
            second_ref = measure(["restic", "backup", "-q", many], runs, env=renv)
            report.add(case + " (unchanged)", "restic backup", many_bytes, second_ref)
            cleanup()
        else:
            report.skipped.append("restic (not installed): snapshot references")
            first_ref = second_ref = None
        report.add(case + " (first)", "trove snapshot", many_bytes,
                   measure([trove, "snapshot", many], heavy_runs, env=env, setup=fresh_library()), first_ref)
        report.add(case + " (unchanged)", "trove snapshot", many_bytes, measure([trove, "snapshot", many], runs, env=env), second_ref)
        cleanup()

    # Heal of the many-file tree to a second store (packs on both), against copying the
    # files themselves with cp -r and syncing.
    if wanted("heal-many"):
        if not os.path.exists(many):
            make_tree(many, [(many_count, 100, 2000)], 13)
        many_bytes = tree_bytes(many)
        case = f"heal {many_count:,} small files to a second store"
        copies = os.path.join(data, "cp-many")
        counter = [0]

        def cp_many_setup():
            counter[0] += 1
            os.makedirs(copies, exist_ok=True)
        ref = measure(lambda: f"cp -r {many} {copies}/{counter[0]} && sync -f {copies}", heavy_runs, setup=cp_many_setup)
        report.add(case, "cp -r + sync", many_bytes, ref)
        shutil.rmtree(copies, ignore_errors=True)

        def heal_many_setup():
            fresh_library(2, copies=2)()
            subprocess.run([trove, "add", many, "--store", "s0"], env=env, check=True, stdout=subprocess.DEVNULL)
        report.add(case, "trove heal (read+write+verify)", many_bytes,
                   measure([trove, "heal"], heavy_runs, env=env, setup=heal_many_setup), ref)
        cleanup()

    # A tree of 1,000,000 small files: first snapshot, unchanged re-snapshot and restore, each
    # next to restic's in the same run, with the peak RSS of each. It takes about half an hour
    # on two cores, so it runs only when asked for by name (`--only million`).
    if only and wanted("million"):
        million = os.path.join(data, "tree1m")
        if not os.path.exists(million):
            make_tree(million, [(1_000_000, 100, 2000)], 17)
        million_bytes = tree_bytes(million)
        case = "1,000,000-file tree"
        # Each tool restores into its own folder, and both are removed only after the case: a
        # million files deleted right before a restore would slow its inode allocation
        # (ext4's recently_deleted()), and only for whichever tool came second.
        outs = [os.path.join(data, f"restore-1m-{tool}") for tool in ("restic", "trove")]
        for out in outs:
            shutil.rmtree(out, ignore_errors=True)
        # One run each for the long steps (a first snapshot and a restore take minutes); the
        # unchanged re-snapshot, seconds long, gets a warm-up and three.
        first_ref = second_ref = restore_ref = None
        if have("restic"):
            first_ref = run_once(["restic", "backup", "-q", million], env=renv, setup=new_restic_repo)
            report.add(case + " (first snapshot)", "restic backup", million_bytes, first_ref)
            second_ref = measure(["restic", "backup", "-q", million], min(runs, 3), env=renv)
            report.add(case + " (unchanged)", "restic backup", million_bytes, second_ref)
            restore_ref = run_once(["restic", "restore", "-q", "latest", "--target", outs[0]], env=renv)
            report.add(case + " (restore)", "restic restore", million_bytes, restore_ref)
            cleanup()
        else:
            report.skipped.append("restic (not installed): 1,000,000-file references")
        report.add(case + " (first snapshot)", "trove snapshot", million_bytes,
                   run_once([trove, "snapshot", million], env=env, setup=fresh_library()), first_ref)
        report.add(case + " (unchanged)", "trove snapshot", million_bytes,
                   measure([trove, "snapshot", million], min(runs, 3), env=env), second_ref)
        report.add(case + " (restore)", "trove restore (verified)", million_bytes,
                   run_once([trove, "restore", "latest", "--to", outs[1]], env=env), restore_ref)
        for out in outs:
            shutil.rmtree(out, ignore_errors=True)
        cleanup()
    elif wanted("million"):
        report.skipped.append("1,000,000-file tree (about 30 minutes; run it with `--only million`)")

    # Catalog rebuild from one store: a library that imported the many-file tree loses its
    # catalog; the records in the store give it back. References: walking the store's objects
    # (the listing a rebuild cannot avoid) and the import that made the catalog first.
    if wanted("rebuild"):
        if not os.path.exists(many):
            make_tree(many, [(many_count, 100, 2000)], 13)
        many_bytes = tree_bytes(many)
        case = f"rebuild catalog of {many_count:,} files"
        fresh_library(1, copies=1)()
        add = run_once([trove, "add", many], env=env)
        subprocess.run([trove, "catalog", "backup"], env=env, check=True, stdout=subprocess.DEVNULL)
        objects = os.path.join(current["stores"][0], ".trove", "objects")
        walk = measure(f"find {objects} -type f | wc -l", runs)
        report.add(case, "find store -type f (walk)", many_bytes, walk)
        report.add(case, "trove add (first import)", many_bytes, add, reference=True)
        lib = current["lib"]

        def lose_catalog():
            for name in os.listdir(lib):
                if name.startswith("catalog.sqlite"):
                    os.remove(os.path.join(lib, name))
        report.add(case, "trove catalog rebuild --from", many_bytes,
                   measure([trove, "catalog", "rebuild", "--from", current["stores"][0]], heavy_runs, env=env,
                           setup=lose_catalog), add)
        cleanup()

    # A 3-of-10 grid over ten folder stores next to whole copies on three: heal of the mixed
    # tree onto it (encode, write 3.3x the bytes, read back and verify), then a restore of the
    # snapshot with the first store gone (every file decoded from shares).
    if wanted("grid"):
        lib_state = {}

        def grid_setup(grid):
            def setup():
                fresh_library(1, copies=3)()
                subprocess.run([trove, "snapshot", mixed], env=env, check=True, stdout=subprocess.DEVNULL)
                root = os.path.dirname(current["lib"])
                names = []
                for i in range(10 if grid else 3):
                    folder = os.path.join(root, f"m{i}")
                    os.makedirs(folder)
                    subprocess.run([trove, "store", "add", folder, "--label", f"m{i}", "--disk", f"member{i}"],
                                   env=env, check=True, stdout=subprocess.DEVNULL)
                    names.append(f"m{i}")
                if grid:
                    subprocess.run([trove, "grid", "create", "family", "--k", "3", "--n", "10", "--stores", ",".join(names)],
                                   env=env, check=True, stdout=subprocess.DEVNULL)
                lib_state["root"] = root
            return setup

        def restore_setup():
            shutil.rmtree(current["stores"][0], ignore_errors=True)
            shutil.rmtree(os.path.join(lib_state["root"], "restored"), ignore_errors=True)

        restore = lambda: [trove, "restore", "latest", "--to", os.path.join(lib_state["root"], "restored")]
        case = "heal mixed tree: 3 whole copies vs 3-of-10 grid"
        ref = measure([trove, "heal"], runs, env=env, setup=grid_setup(False))
        report.add(case, "trove heal to 3 stores (whole copies)", mixed_bytes, ref)
        whole_restore = measure(restore, runs, env=env, setup=lambda: (restore_setup(), None))
        cleanup()
        report.add(case, "trove heal to a 3-of-10 grid", mixed_bytes, measure([trove, "heal"], runs, env=env, setup=grid_setup(True)), ref)
        case = "restore mixed tree: whole copy vs 3-of-10 grid"
        report.add(case, "trove restore from whole copies", mixed_bytes, whole_restore)
        report.add(case, "trove restore from the grid (decoding)", mixed_bytes, measure(restore, runs, env=env, setup=restore_setup),
                   whole_restore)
        cleanup()

    # Erasure coding, file to share files and back, against zfec's own tools on the same file
    # (both write and read the same share-file format; decoding uses parity shares only, so
    # every byte is computed). Trove on one thread and on every core.
    if wanted("fec") and have("zfec") and have("zunfec"):
        size = 256 * MiB if args.quick else 1 * GiB
        source = os.path.join(data, "fec.bin")
        if not os.path.exists(source) or os.path.getsize(source) != size:
            keystream(source, size, 5)
        for k, m in ((3, 10), (4, 6)):
            case = f"fec encode {k}-of-{m}, {size // MiB} MiB"
            out = os.path.join(data, "fec-out")
            def fresh_out():
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
            ref = measure(["zfec", "-q", "-k", str(k), "-m", str(m), "-d", out, "-p", "z", source], runs, setup=fresh_out)
            report.add(case, "zfec (Python + C)", size, ref)
            for threads in (1, os.cpu_count() or 1):
                report.add(case, f"trove fec encode --threads {threads}", size,
                           measure([trove, "fec", "encode", source, "-k", str(k), "-m", str(m), "--dir", out, "--prefix", "t",
                                    "--threads", str(threads)], runs, setup=fresh_out), ref)
            # Decode from parity shares only (k … 2k−1 exist for both codes here); zfec's shares
            # are written again beside Trove's last ones.
            subprocess.run(["zfec", "-q", "-f", "-k", str(k), "-m", str(m), "-d", out, "-p", "z", source], check=True)
            width = len(str(m))
            parity = lambda prefix: [os.path.join(out, f"{prefix}.{n:0{width}d}_{m}.fec") for n in range(k, min(m, 2 * k))]
            if len(parity("z")) == k:
                case = f"fec decode {k}-of-{m} from parity, {size // MiB} MiB"
                restored = os.path.join(data, "fec-restored.bin")
                def fresh_restore():
                    if os.path.exists(restored):
                        os.remove(restored)
                ref = measure(["zunfec", "-o", restored] + parity("z"), runs, setup=fresh_restore)
                report.add(case, "zunfec (Python + C)", size, ref)
                for threads in (1, os.cpu_count() or 1):
                    report.add(case, f"trove fec decode --threads {threads}", size,
                               measure([trove, "fec", "decode"] + parity("t") + ["--to", restored, "--threads", str(threads)],
                                       runs, setup=fresh_restore), ref)
            shutil.rmtree(out, ignore_errors=True)
    elif wanted("fec"):
        report.skipped.append("zfec (not installed): fec references")

    # find across many snapshots of the tree (each snapshot after changing 100 files).
    if wanted("find"):
        count = 20 if args.quick else 100
        fresh_library()()
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(many) for f in fs)
        import random
        rng = random.Random(3)
        started = time.perf_counter()
        for i in range(count):
            for path in rng.sample(files, 100):
                with open(path, "ab") as f:
                    f.write(b"x")
            subprocess.run([trove, "snapshot", many], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"# took {count} snapshots in {time.perf_counter() - started:.1f} s", flush=True)
        name = os.path.basename(files[len(files) // 2])
        case = f"find across {count} snapshots"
        report.add(case, "trove find NAME", 0, measure([trove, "find", name], runs, env=env))
        report.add(case, "trove find FRAGMENT (limit 100)", 0, measure([trove, "find", "d042/e", "--limit", "100"], runs, env=env))
        report.add(case, "trove find GLOB (limit 100)", 0, measure([trove, "find", "f0123*", "--limit", "100"], runs, env=env))
        report.add(case, "trove --help (process start)", 0, measure([trove, "--help"], runs, env=env))
        cleanup()

    # Restoring the mixed tree, against restic restore.
    if wanted("restore"):
        case = "restore mixed tree"
        target = os.path.join(data, "restore-target")
        counter = [0]

        def fresh_target():
            # A new folder per run, all removed after the case: deleting thousands of files
            # right before a run slows ext4's inode allocation for it (recently_deleted()).
            counter[0] += 1
            os.makedirs(target, exist_ok=True)
        if have("restic"):
            new_restic_repo()
            subprocess.run(["restic", "backup", "-q", mixed], env=renv, check=True, stdout=subprocess.DEVNULL)
            ref = measure(lambda: ["restic", "restore", "-q", "latest", "--target", f"{target}/{counter[0]}"], runs, env=renv,
                          setup=fresh_target)
            report.add(case, "restic restore", mixed_bytes, ref)
            cleanup()
        else:
            report.skipped.append("restic (not installed): restore reference")
            ref = measure(lambda: ["cp", "-r", mixed, f"{target}/{counter[0]}"], runs, setup=fresh_target)
            report.add(case, "cp -r", mixed_bytes, ref)
        fresh_library()()
        subprocess.run([trove, "snapshot", mixed], env=env, check=True, stdout=subprocess.DEVNULL)
        report.add(case, "trove restore (verified)", mixed_bytes,
                   measure(lambda: [trove, "restore", "latest", "--to", f"{target}/{counter[0]}"], runs, env=env,
                           setup=fresh_target), ref)
        shutil.rmtree(target, ignore_errors=True)
        cleanup()

    # Snapshot + restore of a real system tree (every attribute), against archivers that keep
    # the same attributes, in the same run.
    if wanted("roundtrip"):
        source = "/usr/share/doc"
        tree = os.path.join(data, "doc-tree")
        if not os.path.exists(tree) and os.path.isdir(source):
            subprocess.run(["cp", "-a", source, tree], check=True)
        if os.path.isdir(tree):
            case = "round trip /usr/share/doc"
            doc_bytes = tree_bytes(tree)
            out = os.path.join(data, "roundtrip-out")
            archive = os.path.join(data, "roundtrip.tar")

            def fresh_out():
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
            ref = measure(f"tar --xattrs --acls -cf {archive} -C {tree} . && tar --xattrs --acls -xpf {archive} -C {out}",
                          runs, setup=fresh_out)
            report.add(case, "tar --xattrs -c then -x", doc_bytes, ref)
            report.add(case, "cp -a (one copy, no history)", doc_bytes,
                       measure(f"cp -a {tree}/. {out}/", runs, setup=fresh_out))
            if have("restic"):
                def restic_round():
                    fresh_out()
                    new_restic_repo()
                report.add(case, "restic backup + restore", doc_bytes,
                           measure(f"restic backup -q {tree} && restic restore -q latest --target {out}", runs, env=renv,
                                   setup=restic_round))
            else:
                report.skipped.append("restic (not installed): round-trip reference")

            def fresh_both():
                fresh_out()
                fresh_library()()
            report.add(case, "trove snapshot + restore", doc_bytes,
                       measure(f"{trove} snapshot {tree} && {trove} restore latest --to {out}/r", runs, env=env,
                               setup=fresh_both), ref)
            shutil.rmtree(out, ignore_errors=True)
            cleanup()

    # status on a catalog of a million files (rows inserted directly; stores are real folders).
    if wanted("status"):
        n = 100_000 if args.quick else 1_000_000
        fresh_library(3)()
        fill_catalog(os.path.join(current["lib"], "catalog.sqlite"), n)
        case = f"status on {n:,} files"
        report.add(case, "trove status --json", 0, measure([trove, "status", "--json"], runs, env=env,
                                                          ok_codes=(0, 1, 2)))
        cleanup()

    # The PostgreSQL catalog against SQLite: an import of the mixed tree, and status on a million
    # files (the SQLite catalog above, moved with `trove catalog migrate`). The server runs with
    # its default durability (fsync on), on this machine's loopback.
    if wanted("postgres"):
        pg_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "postgres-server")
        # Its own folder in /tmp: the server runs as "postgres" when this runs as root, and the
        # data folder (mode 0700) would be closed to it.
        pg_dir = tempfile.mkdtemp(prefix="trove-bench-pg-")
        os.rmdir(pg_dir)
        sock = socket.socket(); sock.bind(("127.0.0.1", 0)); pg_port = sock.getsockname()[1]; sock.close()
        admin = subprocess.run([pg_script, "start", pg_dir, str(pg_port)], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        psql = shutil.which("psql") or sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
        databases = [0]

        def new_database():
            databases[0] += 1
            name = f"bench{databases[0]}"
            subprocess.run([psql, "-h", "127.0.0.1", "-p", str(pg_port), "-U", "trove", "-d", "postgres", "-q", "-c",
                            f"CREATE DATABASE {name}"], check=True, stdout=subprocess.DEVNULL)
            return admin.replace("/postgres?", f"/{name}?")

        def pg_library(store_count=1, copies=3):
            def setup():
                root = os.path.join(data, f"run{len(workdirs)}pg")
                workdirs.append(root)
                current["lib"] = os.path.join(root, "lib")
                env["TROVE_LIBRARY"] = current["lib"]
                subprocess.run([trove, "init", "--copies", str(copies), "--catalog", new_database()], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                for i in range(store_count):
                    store = os.path.join(root, f"store{i}")
                    os.makedirs(store)
                    subprocess.run([trove, "store", "add", store, "--label", f"s{i}", "--disk", f"bench{i}"], env=env,
                                   check=True, stdout=subprocess.DEVNULL)
            return setup

        try:
            case = "add mixed tree, PostgreSQL catalog"
            ref = measure([trove, "add", mixed], runs, env=env, setup=fresh_library())
            report.add(case, "trove add (SQLite catalog)", mixed_bytes, ref)
            report.add(case, "trove add (PostgreSQL catalog)", mixed_bytes,
                       measure([trove, "add", mixed], runs, env=env, setup=pg_library()), ref)
            cleanup()

            n = 100_000 if args.quick else 1_000_000
            fresh_library(3)()
            fill_catalog(os.path.join(current["lib"], "catalog.sqlite"), n)
            case = f"status on {n:,} files, PostgreSQL catalog"
            ref = measure([trove, "status", "--json"], runs, env=env, ok_codes=(0, 1, 2))
            report.add(case, "trove status --json (SQLite catalog)", 0, ref)
            migrate = run_once([trove, "catalog", "migrate", "--to", new_database()], env=env)
            report.add(f"catalog migrate of {n:,} files to PostgreSQL", "trove catalog migrate", 0, migrate, reference=False)
            report.add(case, "trove status --json (PostgreSQL catalog)", 0,
                       measure([trove, "status", "--json"], runs, env=env, ok_codes=(0, 1, 2)), ref)
            cleanup()
        finally:
            subprocess.run([pg_script, "stop", pg_dir], check=False)
            shutil.rmtree(pg_dir, ignore_errors=True)

    # Copies off this machine: S3 (one local moto server, the same for every tool in the run).
    if wanted("cloud") and have("moto_server") and have("aws"):
        # A fresh server per case: moto keeps every upload (spilled to its temp files) until it stops.
        def cloud_case(body):
            cloud = Moto()
            env.update(cloud.credentials)
            aenv = dict(os.environ, **cloud.credentials, AWS_DEFAULT_REGION="us-east-1")
            try:
                body(cloud, aenv)
            finally:
                cloud.stop()
                cleanup()

        def tree_case(cloud, aenv):
            case = "cloud: mixed tree to S3"
            ref = measure(lambda: f"aws s3 sync {mixed} s3://{cloud.new_bucket()}/x --endpoint-url {cloud.endpoint} --only-show-errors",
                          runs, env=aenv)
            report.add(case, "aws s3 sync", mixed_bytes, ref)
            report.add(case, "trove add + heal (verified)", mixed_bytes,
                       measure(f"{trove} add {mixed} && {trove} heal", runs, env=env,
                               setup=fresh_library(store_count=1, copies=2, cloud=cloud)), ref)
            # Like `aws s3 sync`: the tree straight into the bucket, hashed and checked on the way.
            report.add(case, "trove add (straight to S3)", mixed_bytes,
                       measure(f"{trove} add {mixed}", runs, env=env,
                               setup=fresh_library(store_count=0, copies=1, cloud=cloud)), ref)

        def gib_case(cloud, aenv):
            gig = os.path.join(data, "one-gib.bin")
            if not os.path.exists(gig):
                keystream(gig, GiB, 3)
            case = "cloud: 1 GiB file to S3"
            ref = measure(lambda: f"aws s3 cp {gig} s3://{cloud.new_bucket()}/x --endpoint-url {cloud.endpoint} --only-show-errors",
                          runs, env=aenv)
            report.add(case, "aws s3 cp", GiB, ref)
            report.add(case, "trove add + heal (verified)", GiB,
                       measure(f"{trove} add {gig} && {trove} heal", runs, env=env,
                               setup=fresh_library(store_count=1, copies=2, keep_previous=False, cloud=cloud)), ref)

        def rss_case(cloud, aenv):
            four = os.path.join(data, "four-gib.bin")
            if not os.path.exists(four):
                keystream(four, 4 * GiB, 4)
            case = "cloud: heal of a 4 GiB file to S3"

            def four_setup():
                fresh_library(store_count=1, copies=2, keep_previous=False, cloud=cloud)()
                subprocess.run([trove, "add", four, "--store", "s0"], env=env, check=True, stdout=subprocess.DEVNULL)
            report.add(case, "trove heal (upload, checked on arrival)", 4 * GiB, run_once(f"{trove} heal", env=env, setup=four_setup))
            os.remove(four)

        for body in (tree_case, gib_case, rss_case):
            cloud_case(body)
    elif wanted("cloud"):
        report.skipped.append("cloud (moto_server or aws CLI missing)")

    # The many-file tree snapshotted straight to S3 (packs through the Store contract), against
    # restic backing it up to a repository in a bucket of the same moto server.
    if wanted("cloud-snapshot") and have("moto_server"):
        if not os.path.exists(many):
            make_tree(many, [(many_count, 100, 2000)], 13)
        many_bytes = tree_bytes(many)
        case = f"cloud: first snapshot of {many_count:,} files to S3"
        cloud = Moto()
        env.update(cloud.credentials)
        senv = dict(renv, **cloud.credentials, AWS_DEFAULT_REGION="us-east-1")

        def restic_s3_repo():
            senv["RESTIC_REPOSITORY"] = f"s3:{cloud.endpoint}/{cloud.new_bucket()}"
            subprocess.run(["restic", "init", "-q"], env=senv, check=True, stdout=subprocess.DEVNULL)
        try:
            ref = None
            if have("restic"):
                ref = measure(["restic", "backup", "-q", many], heavy_runs, env=senv, setup=restic_s3_repo)
                report.add(case, "restic backup (S3 repository)", many_bytes, ref)
            else:
                report.skipped.append("restic (not installed): S3 snapshot reference")
            report.add(case, "trove snapshot (S3 store only)", many_bytes,
                       measure([trove, "snapshot", many], heavy_runs, env=env,
                               setup=fresh_library(store_count=0, copies=1, cloud=cloud)), ref)
        finally:
            cloud.stop()
            cleanup()
    elif wanted("cloud-snapshot"):
        report.skipped.append("cloud-snapshot (moto_server missing)")

    # The cost of encryption on a local import.
    if wanted("encrypt"):
        case = f"add {big_size // MiB} MiB file, encrypted store"
        env["TROVE_PASSPHRASE"] = "benchmark passphrase"
        ref = measure([trove, "add", big], runs, env=env, setup=fresh_library(keep_previous=False))
        report.add(case, "trove add (plain store)", big_size, ref)
        report.add(case, "trove add (encrypted store)", big_size,
                   measure([trove, "add", big], runs, env=env, setup=fresh_library(keep_previous=False, encrypt=True)), ref)
        case = "add mixed tree, encrypted store"
        ref = measure([trove, "add", mixed], runs, env=env, setup=fresh_library())
        report.add(case, "trove add (plain store)", mixed_bytes, ref)
        report.add(case, "trove add (encrypted store)", mixed_bytes,
                   measure([trove, "add", mixed], runs, env=env, setup=fresh_library(encrypt=True)), ref)
        cleanup()

    # Machines together: heal to a store another machine's `trove serve` hosts, over loopback
    # mutual TLS, next to heal between two local folders; the server's memory while three
    # clients upload 4 GiB at once; requests per second of GET /v1/status.
    if wanted("peer"):
        peer = Peer(trove, data, env)
        case = "heal mixed tree to a second store"

        def local_setup():
            fresh_library(2, copies=2)()
            subprocess.run([trove, "add", mixed, "--store", "s0"], env=env, check=True, stdout=subprocess.DEVNULL)
        ref = measure([trove, "heal"], runs, env=env, setup=local_setup)
        report.add(case, "trove heal, local folder (reference)", mixed_bytes, ref, reference=True)

        def peer_setup():
            fresh_library(1, copies=2)()
            subprocess.run([trove, "add", mixed, "--store", "s0"], env=env, check=True, stdout=subprocess.DEVNULL)
            peer.restart(os.path.join(os.path.dirname(current["lib"]), "tank"))
            peer.pair(current["lib"])
            subprocess.run([trove, "store", "add", "peer://nas/tank", "--label", "nas-tank"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        to_peer = measure([trove, "heal"], runs, env=env, setup=peer_setup)
        report.add(case, "trove heal to a peer (loopback mTLS)", mixed_bytes, to_peer, ref)
        if have("rsync") and have("sshd") and have("ssh-keygen"):
            ssh = Sshd(data)
            try:
                dest = os.path.join(data, "rsync-dest")

                def rsync_setup():
                    shutil.rmtree(dest, ignore_errors=True)
                    os.makedirs(dest)
                rsync = measure(["rsync", "-a", "-e", ssh.command(), mixed + "/", f"root@127.0.0.1:{dest}/"], runs,
                                setup=rsync_setup)
                report.add(case, "rsync -a over ssh to localhost", mixed_bytes, rsync, reference=True)
                report.notes.append(f"heal to a peer against rsync -a over ssh (which verifies nothing end to end): "
                                    f"{rsync[0] / to_peer[0]:.2f}x (above 1: Trove faster)")
                shutil.rmtree(dest, ignore_errors=True)
            finally:
                ssh.stop()
        else:
            report.skipped.append("rsync -a over ssh to localhost (rsync/sshd not installed here)")
        cleanup()

        if not args.quick:
            size = 4 * GiB
            source = os.path.join(data, "upload-4g.bin")
            if not os.path.exists(source) or os.path.getsize(source) != size:
                keystream(source, size, 44)
            root = os.path.join(data, "three-clients")
            shutil.rmtree(root, ignore_errors=True)
            peer.restart(os.path.join(root, "tank"))
            clients = []
            for i in range(3):
                lib = os.path.join(root, f"client{i}")
                cenv = dict(env, TROVE_LIBRARY=lib)
                subprocess.run([trove, "init", "--copies", "1"], env=cenv, check=True, stdout=subprocess.DEVNULL)
                peer.pair(lib)
                subprocess.run([trove, "store", "add", "peer://nas/tank", "--label", "nas-tank"], env=cenv, check=True,
                               stdout=subprocess.DEVNULL)
                clients.append(cenv)
            start = time.perf_counter()
            procs = [subprocess.Popen([trove, "add", source], env=c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in clients]
            peak = 0
            while any(p.poll() is None for p in procs):
                peak = max(peak, peer.rss())
                time.sleep(0.2)
            wall = time.perf_counter() - start
            for p in procs:
                if p.returncode != 0:
                    raise RuntimeError(f"upload failed: {p.stderr.read().decode()[-500:]}")
            peak = max(peak, peer.hwm())
            report.add("3 clients upload 4 GiB each at once", "trove serve (server peak RSS)", 3 * size, (wall, 0.0, peak))
            shutil.rmtree(root, ignore_errors=True)

        status_lib = os.path.join(data, "load-client")
        shutil.rmtree(status_lib, ignore_errors=True)
        subprocess.run([trove, "init"], env=dict(env, TROVE_LIBRARY=status_lib), check=True, stdout=subprocess.DEVNULL)
        peer.pair(status_lib)
        load = os.path.join(os.path.dirname(trove), "peer-load")
        for threads in (16, 64):
            out = subprocess.run([load, status_lib, "nas", "/v1/status", "10", str(threads)], check=True, capture_output=True, text=True)
            import json as _json
            result = _json.loads(out.stdout)
            report.notes.append(f"GET /v1/status over mutual TLS, {threads} client threads (8 connections): "
                                f"{result['rps']:.0f} requests/s, {result['errors']} errors (peer-load and server on the same 2 cores)")
            print(report.notes[-1], flush=True)
        shutil.rmtree(status_lib, ignore_errors=True)
        if have("wrk"):
            # wrk presents no client certificate: the loopback plain-HTTP face (--metrics-port)
            # serves the same status document, so this is the server without TLS.
            peer.restart(os.path.join(data, "wrk-tank"), metrics=True)
            out = subprocess.run(["wrk", "-t2", "-c16", "-d10s", f"http://127.0.0.1:{peer.metrics_port}/v1/status"],
                                 capture_output=True, text=True, check=True).stdout
            rps = float(out.split("Requests/sec:")[1].split()[0])
            report.notes.append(f"GET /v1/status with wrk -t2 -c16 over loopback plain HTTP (--metrics-port; wrk cannot present "
                                f"a client certificate): {rps:.0f} requests/s (wrk and server on the same 2 cores)")
            print(report.notes[-1], flush=True)
        else:
            report.skipped.append("wrk (not installed): GET /v1/status over plain loopback HTTP")
        peer.stop()

    cleanup()
    md = [f"# Trove benchmark results", "",
          f"Machine: {machine()}. Data on `{data}` ({os.statvfs(data).f_bsize}-byte blocks).",
          f"Command: `Benchmarks/run.sh{' --quick' if args.quick else ''}{' --only ' + args.only if args.only else ''}`; {runs} runs after a warm-up, medians; "
          f"the ratio column is reference time ÷ Trove time (above 1: Trove is faster).", "",
          report.markdown(), ""]
    if report.notes:
        md += ["Notes:", ""] + [f"- {note}" for note in report.notes] + [""]
    if report.skipped:
        md += ["Skipped references: " + "; ".join(report.skipped), ""]
    results = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    with open(results, "w") as f:
        f.write("\n".join(md))
    print(f"\nwrote {results}")
    if report.skipped:
        print("skipped: " + "; ".join(report.skipped))


if __name__ == "__main__":
    main()
