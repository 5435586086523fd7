import ArgumentParser

@main
struct Trove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trove",
        abstract: "Keep every file you cannot replace in enough verified copies.",
        discussion: """
            Library: --library PATH, else $TROVE_LIBRARY, else $XDG_DATA_HOME/trove (~/.local/share/trove).
            Exit codes: 0 ok; 1 warnings (status); 2 the user must act (status), or corruption found
            (verify, check); 64 usage; 65 no good copy; 66 missing input; 73 cannot create;
            74 I/O error or disk full; 75 store not connected (retry later); 77 permission denied.
            """,
        subcommands: [
            Init.self, StoreCommand.self, Add.self, Hash.self, Get.self, WhereIs.self, Verify.self,
            Status.self, Events.self, Check.self, Heal.self, Scrub.self, Serve.self, GC.self,
            Track.self, SnapshotCommand.self, Snapshots.self, Ls.self, Find.self, Restore.self, Diff.self, Forget.self,
            Dupes.self, Du.self, IndexSnapshots.self, Demo.self,
        ]
    )
}
