import Crypto
import Foundation
import Testing
import TroveCore
import TroveS3
import TroveStorage
import TroveStores
import TroveTesting

/// A grid over every kind of member the registry builds: folders, an encrypted folder and an S3
/// bucket (moto). Each keeps its shares in a store of its own, wrapped like the member.
@Suite(.serialized) struct GridMixedMembersTests {
    @Test func aGridOverFoldersAnEncryptedFolderAndABucket() throws {
        let folder = TempFolder()
        let moto = try MotoServer.shared.get()
        let bucket = "grid-\(UUID().uuidString.prefix(8).lowercased())"
        try moto.createBucket(bucket)
        let environment = ["AWS_ACCESS_KEY_ID": MotoServer.credentials.accessKey, "AWS_SECRET_ACCESS_KEY": MotoServer.credentials.secretKey]
        let registry = StoreRegistry(libraryPath: folder.folder("library"), environment: environment)
        var members: [StoreRecord] = []
        for index in 0..<2 {
            let root = folder.folder("m\(index)")
            let store = try LocalStore.create(at: root, label: "m\(index)", copies: 1, now: Date())
            members.append(StoreRecord(id: store.identity.id, label: "m\(index)", kind: .local, location: root, created: Date(), disk: "test:\(index)"))
        }
        // An encrypted folder unlocked by a key file.
        let keyFile = folder.at("m2.key")
        let (encryption, _) = try StoreKeys.create(passphrase: nil, keyFileKey: try StoreKeys.makeKeyFile(keyFile), chunkSize: ContentHash.leafSize)
        let secret = try LocalStore.create(at: folder.folder("m2"), label: "m2", copies: 1, now: Date(), encryption: encryption)
        members.append(StoreRecord(id: secret.identity.id, label: "m2", kind: .local, location: folder.at("m2"), created: Date(), disk: "test:2",
                                   config: StoreConfig(keyFile: keyFile), encrypted: true))
        // A bucket.
        let config = StoreConfig(endpoint: moto.endpoint.absoluteString, bucket: bucket, prefix: "lib", pathStyle: true)
        let identity = StoreIdentity(id: StoreIdentity.newID(), label: "m3", created: Date(), kind: .s3, copies: 1, filesystemUUID: nil)
        _ = try S3Store.create(config, identity: identity, environment: environment)
        members.append(StoreRecord(id: identity.id, label: "m3", kind: .s3, location: S3Store.location(config), created: Date(), config: config))

        let grid = StoreRecord(id: StoreIdentity.newID(), label: "mixed", kind: .grid, location: "grid:mixed", copies: 3, created: Date(),
                               config: StoreConfig(grid: GridConfig(k: 2, n: 4, members: members.map(\.id))), shareDomains: members.map(\.domain))
        for member in members { _ = try registry.shareStore(of: member, grid: grid, create: true) }
        func open() throws -> GridStore {
            try #require(registry.observeGrid(grid, members: members.map { ($0, registry.observe($0)) }).store as? GridStore)
        }
        let store = try open()
        #expect(store.members.allSatisfy { $0.connected && $0.shares != nil })
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(ContentHash.leafSize + 4321, seed: 12)
        try StoreConformance.put(bytes, as: id, in: store)
        let back = try StoreConformance.get(id, from: try open()) == bytes
        #expect(back)
        let audit = try open().audit(id, fromMedia: true, repair: .none)
        #expect(audit.good == 4 && audit.problems.isEmpty, "\(audit.problems)")

        // The encrypted member's share is sealed: its share store names objects by a keyed hash.
        let sealed = try #require(try LocalStore.open(at: StoreRegistry.shareLocation(of: members[2], grid: grid.id).location))
        #expect(try sealed.objectIDs().count == 1 && !(try sealed.objectIDs().contains(id)))
        // The bucket's share sits under the member's prefix, beside (not among) its objects.
        let client = moto.client(bucket: bucket)
        defer { client.shutdown() }
        let listed = try client.list(prefix: "lib/", continuation: nil, maxKeys: 1000).objects.map(\.key)
        #expect(listed.contains("lib/.trove/grid/\(grid.id)/objects/\(id)"), "\(listed)")
        #expect(!listed.contains { $0.hasPrefix("lib/objects/") })

        // Any two members give it back: the encrypted folder and the bucket alone.
        for index in 0..<2 { try open().members[index].shares!.remove(id) }
        let fromTwo = try StoreConformance.get(id, from: try open()) == bytes
        #expect(fromTwo)
        // Heads work across the kinds (a test-and-set create on each).
        try open().writeRecord(.libraryHead, Array("head".utf8))
        #expect(try open().readRecord(.libraryHead) == Array("head".utf8))
    }
}
