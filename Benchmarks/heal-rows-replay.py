#!/usr/bin/env python3
"""How much of a heal of many small files is the catalog's rows, today and in leaner designs.

Builds a real library with `trove` (one store holding the 100,000-file tree of bench.py, a second
empty store), then replays on copies of its catalog what healing every file to the second store
writes, in transactions of 1,024 files as `trove heal` commits them, with Trove's pragmas:

  today                 a copy row per object (its triggers: durability, store totals, journal),
                        a `copy_created` event per object, a `packed` row per object
  copy row per pack     no copy, journal or event row per object; each object's `packed` row
                        (where it lives in its new pack) and its file's durability still updated
  packed rows only      just the `packed` rows
  durability only       just raising each file's durability
  no row per object     a pack row and an event per pack

Usage: Benchmarks/heal-rows-replay.py --trove .build/release/trove [--data DIR]
The reference is `cp -r` + `sync` of the same tree, measured here too: the issue's target is a
heal twice as fast as that, so half its time is the whole budget.
"""
import argparse, os, random, shutil, sqlite3, subprocess, tempfile, time

from bench import make_tree


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trove", required=True)
    ap.add_argument("--data", help="where the tree and the library go (default: a new temporary folder)")
    args = ap.parse_args()
    args.data = args.data or tempfile.mkdtemp(prefix="trove-replay-")
    tree = os.path.join(args.data, "tree100k")
    if not os.path.exists(tree):
        make_tree(tree, [(100_000, 100, 2000)], 13)
    root = os.path.join(args.data, "replay")
    shutil.rmtree(root, ignore_errors=True)
    env = dict(os.environ, TROVE_LIBRARY=os.path.join(root, "lib"), TROVE_LOG_LEVEL="error")
    run = lambda *argv: subprocess.run([args.trove, *argv], env=env, check=True, stdout=subprocess.DEVNULL)
    run("init", "--copies", "2")
    for i in range(2):
        os.makedirs(os.path.join(root, f"s{i}"))
        run("store", "add", os.path.join(root, f"s{i}"), "--label", f"s{i}", "--disk", f"replay{i}")
    run("add", tree, "--store", "s0")
    catalog = os.path.join(root, "lib", "catalog.sqlite")
    with sqlite3.connect(catalog) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # As bench.py measures it: a warm-up, then the median of three, every copy kept until the
    # end (deleting 100,000 files slows ext4's next inode allocations).
    copies = os.path.join(root, "cp")
    os.makedirs(copies)
    times = []
    for run_number in range(4):
        start = time.perf_counter()
        subprocess.run(f"cp -r {tree} {copies}/{run_number} && sync -f {copies}", shell=True, check=True)
        times.append(time.perf_counter() - start)
    reference = sorted(times[1:])[1]
    print(f"{'cp -r + sync of the tree (reference, median of 3)':52s} {reference:6.2f} s; the target's whole budget: {reference / 2:.2f} s")

    def fresh():
        work = os.path.join(root, "replay.sqlite")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(work + suffix):
                os.remove(work + suffix)
        shutil.copy(catalog, work)
        db = sqlite3.connect(work, isolation_level=None)
        for pragma in ("journal_mode=wal", "synchronous=full", "cache_size=-32768", "temp_store=memory",
                       "wal_autocheckpoint=8192", "foreign_keys=on"):
            db.execute("PRAGMA " + pragma)
        return db

    def many(db, head, row, tail, rows):
        for at in range(0, len(rows), 64):
            chunk = rows[at:at + 64]
            db.execute(head + ",".join([row] * len(chunk)) + tail, [v for r in chunk for v in r])

    rng = random.Random(1)

    def new_pack(db, store):
        pack = rng.randbytes(32)
        db.execute("INSERT INTO packs (store_id, pack, size) VALUES (?, ?, ?)", (store, pack, 1 << 20))
        return pack

    def packed(db, store, pack, group):
        many(db, "INSERT INTO packed (store_id, object, pack, start, length) VALUES ", "(?, ?, ?, ?, ?)", "",
             [(store, bytes.fromhex(file_id_hex), pack, n * 1000, 1000) for n, file_id_hex in enumerate(group[1])])

    def durability(db, group):
        for file_id in group[0]:
            db.execute("UPDATE files SET durability = durability + 1 WHERE id = ?", (file_id,))

    def today(db, store, group):
        many(db, "INSERT INTO copies (file_id, store_id, copies, mtime, verified) VALUES ", "(?, ?, ?, ?, ?)",
             " ON CONFLICT(file_id, store_id) DO UPDATE SET copies = excluded.copies",
             [(file_id, store, 1, 1.7e9, 1.7e9) for file_id in group[0]])
        for file_id in group[0]:
            db.execute("INSERT INTO events (time, kind, store_id, file_id, details) VALUES (?, ?, ?, ?, ?)",
                       (1.7e9, "copy_created", store, file_id, '{"from":"s0","size":1234}'))
        packed(db, store, new_pack(db, store), group)

    def per_pack(db, store, group):
        packed(db, store, new_pack(db, store), group)
        durability(db, group)
        db.execute("INSERT INTO events (time, kind, store_id, details) VALUES (?, ?, ?, ?)",
                   (1.7e9, "pack_copied", store, '{"files":1024}'))

    def packed_only(db, store, group):
        packed(db, store, new_pack(db, store), group)

    def no_rows(db, store, group):
        new_pack(db, store)
        db.execute("INSERT INTO events (time, kind, store_id, details) VALUES (?, ?, ?, ?)",
                   (1.7e9, "pack_copied", store, '{"files":1024}'))

    designs = [("today: copy, event and packed row per object", today),
               ("copy row per pack: packed row + durability per object", per_pack),
               ("packed rows only", packed_only),
               ("durability only", lambda db, store, group: durability(db, group)),
               ("no row per object: a pack row and an event per pack", no_rows)]
    for label, body in designs:
        db = fresh()
        ids = [row[0] for row in db.execute("SELECT id FROM files ORDER BY durability, size DESC")]
        # Object keys in `packed` are the IDs' 32 bytes; random ones stand in (same size, same scatter).
        keys = ["%064x" % rng.getrandbits(256) for _ in ids]
        store = db.execute("SELECT id FROM stores WHERE label = 's1'").fetchone()[0]
        start = time.perf_counter()
        for at in range(0, len(ids), 1024):
            db.execute("BEGIN")
            body(db, store, (ids[at:at + 1024], keys[at:at + 1024]))
            db.execute("COMMIT")
        print(f"{label:52s} {time.perf_counter() - start:6.2f} s", flush=True)
        db.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
