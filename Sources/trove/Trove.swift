import ArgumentParser
import Foundation
import TroveCore

@main
struct Trove: ParsableCommand {
    /// Arguments as the bytes the shell passed (NameCodec): a path that is not UTF-8 names the
    /// same file here as on disk (Swift's own decoding would replace its bytes with U+FFFD).
    static func main() {
        let arguments = (1..<Int(CommandLine.argc)).map { index -> String in
            guard let raw = CommandLine.unsafeArgv[index] else { return "" }
            return NameCodec.decode(UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self),
                                                        count: strlen(raw)))
        }
        main(arguments)
    }

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
            Status.self, Metrics.self, Events.self, Check.self, Heal.self, Scrub.self, Serve.self, GC.self,
            Track.self, SnapshotCommand.self, Snapshots.self, Ls.self, Find.self, Restore.self, Diff.self, Forget.self,
            Dupes.self, Du.self, IndexSnapshots.self, CatalogCommand.self, GridCommand.self, PeerCommand.self, HostCommand.self, FEC.self, Demo.self,
        ]
    )
}
