import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TroveStorage

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Add, list and configure stores.",
        subcommands: [StoreAdd.self, StoreList.self, StoreSet.self, StoreAck.self, StoreRepack.self, StoreRemove.self])
}

struct StoreAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Make a store in a folder on a drive or in an S3 bucket, or re-attach the store already there.",
        discussion: """
            Re-attaching a folder or bucket that holds a store adopts it: its objects are verified and entered into the catalog; nothing is wiped.

            S3 (AWS, Backblaze B2, Wasabi, MinIO, Ceph, Garage): `trove store add s3://BUCKET/PREFIX --endpoint https://HOST`. The bucket must exist. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the AWS credentials file (--profile, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE); they are never stored by Trove.

            --encrypt (any kind of store): objects are sealed with AES-256-GCM per leaf and named by a keyed hash, so the store's owner sees neither content nor which files you have. The master key is sealed in the store under a key derived (scrypt) from your passphrase (TROVE_PASSPHRASE, or asked) and under a key file kept in the library (mode 0600) for unattended runs; or give your own --key-file. The store plus the passphrase is enough to read it back.

            Trove finds the disk each store lives on (its WWN, else its name and serial; a loop device's image; a ZFS dataset's pool; a network share's server). Copies on stores that share a disk count once toward durability: a dying disk takes them all. Refused: a folder inside a store or around one, the library's folder or one around it, and a folder that already is a store. --disk declares the disk by name where detection cannot tell (stores declaring the same name share a domain).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An existing folder on the drive (e.g. its mount point), or s3://BUCKET[/PREFIX].") var folder: String
    @Option(help: "A short name for the store (default: the folder's or bucket's name).") var label: String?
    @Option(help: "How many copies one object there counts for (1 for a drive, 0 for a cache).") var copies = 1
    @Option(help: "Declare the disk (failure domain) by name, overriding detection.") var disk: String?
    @Option(help: "S3: the service's URL, https://HOST[:PORT] (default: AWS in --region).") var endpoint: String?
    @Option(help: "S3: the signing region.") var region: String?
    @Flag(help: "S3: address the bucket in the path (MinIO, Garage, moto) instead of the host name.") var pathStyle = false
    @Option(help: "S3: the section of the AWS credentials file to use.") var profile: String?
    @Flag(help: "Encrypt a new store (passphrase from TROVE_PASSPHRASE or asked, or --key-file).") var encrypt = false
    @Option(help: "A file (mode 0600) holding a 32-byte key, base64 or hex, that unlocks the store.") var keyFile: String?
    @Option(help: "Bandwidth limit, e.g. 20MB/s (reads and writes each).") var limit: String?

    func validate() throws {
        try requireRange(copies, 0...16, "copies")
        if let limit { _ = try parseRate(limit) }
        if !folder.hasPrefix("s3://") && (endpoint != nil || region != nil || pathStyle || profile != nil) {
            throw ValidationError("--endpoint, --region, --path-style and --profile are for s3:// stores.")
        }
    }
    @Flag(help: "Print the store as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let config = StoreConfig(endpoint: endpoint, region: region, pathStyle: pathStyle ? true : nil, profile: profile,
                                     limit: try limit.flatMap(parseRate))
            let request = StoreRequest(location: folder, label: label, copies: copies, disk: disk, config: config,
                                       encrypt: encrypt, keyFile: keyFile)
            let (record, adoption) = try library.addStore(request, progress: Output.progress(json: json))
            let sharing = try library.storesSharingDisk(with: record)
            if json {
                Output.json(StoreAddJSON(store: record, adopted: adoption, sharesDiskWith: sharing.map(\.label)))
                return
            }
            if !sharing.isEmpty {
                Output.error("warning: '\(record.label)' is on the same disk as \(sharing.map { "'\($0.label)'" }.joined(separator: ", "))\(record.diskShown.map { " (\($0))" } ?? ""); copies there count once, so this store adds no durability. Put stores on different drives.")
            }
            if let adoption {
                Output.line("Re-attached store '\(record.label)' at \(record.location): \(adoption.objects) objects, \(adoption.known) already known, \(adoption.new) new, \(adoption.corrupt) corrupt (quarantined).")
            } else {
                Output.line("Added \(record.encrypted ? "encrypted " : "")store '\(record.label)' at \(record.location) (id \(record.id), copies \(record.copies)\(record.filesystemUUID.map { ", drive \($0)" } ?? "")).")
                if record.encrypted, let keyFile = record.config.keyFile, keyFile.hasPrefix(library.path) {
                    Output.line("Its key is sealed under your passphrase in the store and under \(keyFile) (mode 0600) for unattended runs. Keep the passphrase: with it the store can be read back anywhere.")
                }
            }
        }
    }
}

struct StoreAddJSON: Encodable {
    var store: StoreRecord
    var adopted: AdoptionReport?
    var sharesDiskWith: [String]
}

struct StoreList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List stores: where, trust, space, copies held.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary(readOnly: true)
            let status = try library.currentStatus()
            if json {
                Output.json(["stores": status.stores.map { StoreJSON($0, all: status.stores) }])
                return
            }
            if status.stores.isEmpty { Output.line("No stores yet; add one with `trove store add FOLDER`."); return }
            var rows = [["LABEL", "KIND", "STATE", "CONNECTED", "DISK", "COPIES", "FILES", "HELD", "FREE", "LOCATION"]]
            for store in status.stores {
                let r = store.record
                let kind = r.config.grid.map { "grid \($0.k)-of-\($0.n)" } ?? r.kind.rawValue
                rows.append([r.label, kind + (r.encrypted ? ",encrypted" : ""), r.trust.rawValue + (r.noNewCopies ? ",no-new-copies" : "") + (r.readOnly ? ",read-only" : ""),
                             store.connected ? "yes" : "no (\(store.problem ?? "not found"))", r.diskShown ?? "?",
                             String(r.copies), String(store.files), formatBytes(store.bytes),
                             r.free.map { formatBytes(UInt64($0)) } ?? "?", r.location])
            }
            Output.line(Output.table(rows))
        }
    }
}


struct StoreAck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ack", abstract: "Acknowledge a drive failure alert once the drive has been dealt with.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The store's label.") var label: String

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            try library.acknowledgeDriveFailure(label)
            Output.line("Acknowledged the drive failure on '\(label)'. Its copies stay downgraded until `trove store set \(label) --trust`.")
        }
    }
}

struct StoreSet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Change a store's weight, flags or trust by hand.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The store's label.") var label: String
    @Option(help: "How many copies one object there counts for.") var copies: Int?

    func validate() throws {
        try requireRange(copies, 0...16, "copies")
        if let limit, limit != "none" { _ = try parseRate(limit) }
    }
    @Flag(inversion: .prefixedNo, help: "Place no new copies there (e.g. a drive you suspect).") var newCopies: Bool?
    @Flag(help: "Trust the store again after checking its drive; its copies count once re-verified.") var trust = false
    @Option(help: "Rename the store.") var rename: String?
    @Option(help: "Declare the disk (failure domain) by name; `detected` goes back to what Trove finds.") var disk: String?
    @Option(help: "Bandwidth limit, e.g. 20MB/s, 500KB/s; `none` removes it.") var limit: String?
    @Flag(help: "Print the store as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            var change = StoreChange(copies: copies, noNewCopies: newCopies.map { !$0 }, trust: trust, label: rename)
            if let disk { change.declaredDisk = .some(disk == "detected" ? nil : disk) }
            if let limit { change.limit = .some(limit == "none" ? nil : try parseRate(limit)) }
            let record = try library.setStore(label, change)
            if json { Output.json(record); return }
            Output.line("Store '\(record.label)': \(record.trust.rawValue), copies \(record.copies)\(record.noNewCopies ? ", no new copies" : "").")
        }
    }
}

struct StoreRepack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repack", abstract: "Gather a store's loose small objects into packs and rewrite its mostly dead packs (docs/packs.md).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The store's label.") var label: String
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let report = try library.repackStore(label, progress: Output.progress(json: json))
            if json { Output.json(report); return }
            Output.line("Store '\(report.store)': packed \(report.objectsPacked) loose object\(report.objectsPacked == 1 ? "" : "s") into \(report.packsWritten) pack\(report.packsWritten == 1 ? "" : "s"); rewrote \(report.packsRewritten) mostly dead pack\(report.packsRewritten == 1 ? "" : "s") (\(formatBytes(report.bytesFreed)) freed).")
            for id in report.corrupt { Output.line("  corrupt copy found and set aside: \(id) (run `trove heal`)") }
            for id in report.missing { Output.line("  copy missing: \(id) (run `trove heal`)") }
            if !report.corrupt.isEmpty || !report.missing.isEmpty { throw ExitCode(2) }
        }
    }
}

struct StoreRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Forget a store (its folder is left as it is; re-attach it later with `store add`).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The store's label.") var label: String
    @Flag(help: "Forget it even if it holds the only copy of some files.") var force = false

    func run() throws {
        try reportingErrors {
            let library = try global.openLibrary()
            let (record, copies) = try library.removeStore(label, force: force)
            Output.line("Forgot store '\(record.label)' and its \(copies) copies; the folder \(record.location) was not touched.")
        }
    }
}
