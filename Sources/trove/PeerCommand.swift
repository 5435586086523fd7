import ArgumentParser
import Foundation
import TroveCore
import TroveEngine
import TrovePeer
import TroveStorage

struct PeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Pair with other Trove machines: invite, join, list, revoke.",
        discussion: """
            On the machine that serves (`trove serve --listen …`): `trove peer invite --label desktop` prints a
            one-time code, valid 10 minutes. On the other machine: `trove peer join https://HOST:PORT CODE --label nas`.
            Each then pins the other's certificate; every later connection is mutual TLS with exactly those.
            """,
        subcommands: [Invite.self, Join.self, List.self, Revoke.self])

    struct Invite: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a one-time pairing code for a machine to join this one.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The name this machine will know the joining one by.") var label: String
        @Option(help: "What it may do here: read, write, admin (comma-separated).") var can = "read,write"
        @Flag(help: "It may add objects and records but never delete or replace them.") var appendOnly = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                guard HostedName.isValid(label) else {
                    throw TroveError(.usage, "'\(label)' cannot name a peer: use 1-64 of a-z, 0-9, - and _.")
                }
                let rights = try PeerRights(parsing: can)
                if appendOnly && rights.contains(.admin) {
                    throw TroveError(.usage, "An admin may delete, so it cannot also be append-only: drop admin from --can, or drop --append-only.")
                }
                if appendOnly && !rights.contains(.write) {
                    throw TroveError(.usage, "--append-only limits writing, but --can gives no write right: add write to --can.")
                }
                let identity = try PeerIdentity.loadOrCreate(library: library.path, name: DiskIdentity.machineName())
                let code = PairingCode(serverFingerprint: identity.fingerprint)
                let now = library.clock.now()
                let expires = now + PeerBook.inviteLifetime
                try PeerBookFile(library: library.path).update { book in
                    if let taken = book.peer(label: label) {
                        throw TroveError(.usage, "'\(label)' already names a paired machine (since \(Output.date(taken.added))); revoke it first or choose another label.")
                    }
                    book.invites.removeAll { $0.expires <= now || $0.label == label }
                    book.invites.append(PendingInvite(label: label, secretDigest: PairingCode.secretDigest(code.secret), rights: rights,
                                                      appendOnly: appendOnly, expires: expires))
                }
                if json {
                    Output.json(InviteJSON(code: code.description, label: label, rights: rights.words, appendOnly: appendOnly, expires: expires,
                                           fingerprint: identity.fingerprint))
                } else {
                    Output.line("Pairing code for '\(label)' (\(rights)\(appendOnly ? ", append-only" : ""); valid until \(Output.date(expires))):")
                    Output.line("")
                    Output.line("    \(code)")
                    Output.line("")
                    Output.line("On that machine run:  trove peer join https://THIS-HOST:PORT \(code) --label NAME-FOR-THIS-MACHINE")
                    Output.line("(`trove serve --listen …` must be running here.)")
                }
            }
        }
    }

    struct Join: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pair with the machine that printed a code (its `trove serve --listen` must run).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its address, e.g. https://nas.local:7860.") var address: String
        @Argument(help: "The code `trove peer invite` printed there.") var code: String
        @Option(help: "The name this machine will know it by (in peer://NAME/STORE).") var label: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let parsed = try PairingCode(parsing: code)
                let identity = try PeerIdentity.loadOrCreate(library: library.path, name: DiskIdentity.machineName())
                let (peer, reply) = try PeerJoin.join(library: library.path, identity: identity, address: address, code: parsed, label: label,
                                                      now: library.clock.now(), libraryID: try library.catalog.setting("library_id"))
                if json {
                    Output.json(JoinJSON(label: peer.label, address: peer.address ?? address, fingerprint: peer.fingerprint,
                                         serverName: reply.name, grantedRights: reply.rights.words, appendOnly: reply.appendOnly))
                } else {
                    Output.line("Paired with '\(peer.label)' (\(reply.name), certificate SHA-256 \(peer.fingerprint)).")
                    Output.line("It lets this machine: \(reply.rights)\(reply.appendOnly ? " (append-only)" : "").")
                    Output.line("Add a store it hosts with:  trove store add peer://\(peer.label)/STORE --label NAME")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List paired machines and open invitations.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let book = try PeerBookFile(library: library.path).load()
                let now = library.clock.now()
                let invites = book.invites.filter { $0.expires > now }
                if json {
                    Output.json(PeerListJSON(peers: book.peers.map(PeerJSON.init), invites: invites.map {
                        PeerListJSON.Invite(label: $0.label, rights: $0.rights.words, appendOnly: $0.appendOnly, expires: $0.expires)
                    }))
                    return
                }
                if book.peers.isEmpty && invites.isEmpty {
                    Output.line("No paired machines. Pair with `trove peer invite` (on the serving machine) and `trove peer join`.")
                    return
                }
                if !book.peers.isEmpty {
                    var rows = [["LABEL", "RIGHTS HERE", "ADDRESS", "PAIRED", "FINGERPRINT"]]
                    for peer in book.peers {
                        rows.append([peer.label, peer.rights.description + (peer.appendOnly ? " (append-only)" : ""), peer.address ?? "-",
                                     Output.date(peer.added), String(peer.fingerprint.prefix(16)) + "…"])
                    }
                    Output.line(Output.table(rows))
                }
                for invite in invites {
                    Output.line("Open invitation for '\(invite.label)' (\(invite.rights)) until \(Output.date(invite.expires)).")
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a paired machine: refused from its next request on, also on connections already open.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its label (as `trove peer list` shows it).") var label: String

        func run() throws {
            try reportingErrors {
                let library = try global.openLibrary(readOnly: true)
                let removed = try PeerBookFile(library: library.path).update { book -> Bool in
                    let before = book.peers.count + book.invites.count
                    book.peers.removeAll { $0.label == label }
                    book.invites.removeAll { $0.label == label }
                    return book.peers.count + book.invites.count < before
                }
                guard removed else { throw TroveError(.unknownFile, "No paired machine or invitation is labelled '\(label)'; see `trove peer list`.") }
                Output.line("Revoked '\(label)': its certificate is no longer accepted here.")
            }
        }
    }
}

struct InviteJSON: Encodable {
    var code, label: String
    var rights: [String]
    var appendOnly: Bool
    var expires: Date
    var fingerprint: String
}

struct JoinJSON: Encodable {
    var label, address, fingerprint, serverName: String
    var grantedRights: [String]
    var appendOnly: Bool
}

struct PeerJSON: Encodable {
    var label, fingerprint: String
    var rights: [String]
    var appendOnly: Bool
    var address: String?
    var added: Date
    init(_ peer: PinnedPeer) {
        label = peer.label; fingerprint = peer.fingerprint; rights = peer.rights.words; appendOnly = peer.appendOnly
        address = peer.address; added = peer.added
    }
}

struct PeerListJSON: Encodable {
    struct Invite: Encodable {
        var label: String
        var rights: [String]
        var appendOnly: Bool
        var expires: Date
    }
    var peers: [PeerJSON]
    var invites: [Invite]
}
