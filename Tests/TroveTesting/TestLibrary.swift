import Foundation
import Testing
import Logging
import TroveCore
import TroveEngine
import TroveStorage
import TroveStores

/// A clock tests move by hand.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    public var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    public func advance(days: Double) { lock.lock(); current += days * 86_400; lock.unlock() }
    public var clock: TroveClock { TroveClock { [self] in now } }
}

/// A library in a temporary folder with `count` folder stores, optionally with faults injected.
public final class TestLibrary: @unchecked Sendable {
    public let folder = TempFolder("lib")
    public let clock = ManualClock()
    public let library: Library
    public var stores: [StoreRecord] = []
    private let faultsLock = NSLock()
    private var faults: [String: FaultyStore.Fault] = [:]

    public init(stores count: Int = 3) throws {
        library = try Library.create(at: folder.at("library"), clock: clock.clock, logger: Logger(label: "test"))
        let registry = library.registry
        library.locate = { [unowned self] record in
            let observation = registry.observe(record)
            guard case .connected(let store) = observation, let fault = self.fault(for: record.label) else { return observation }
            let label = record.label
            return .connected(FaultyStore(store, fault: fault, onRead: { [unowned self] _ in self.countRead(label) }))
        }
        for index in 0..<count {
            let path = folder.folder("drive\(index)")
            // Each folder stands for a drive of its own (they share the test machine's disk).
            stores.append(try library.addStore(folder: path, label: "drive\(index)", disk: "drive\(index)").record)
        }
    }

    /// Injects a fault into a store from now on (nil clears it).
    public func inject(_ fault: FaultyStore.Fault?, into label: String) {
        faultsLock.lock(); faults[label] = fault; faultsLock.unlock()
    }

    /// Objects opened for reading per store label (counted while a fault is injected there).
    public func reads(_ label: String) -> Int { faultsLock.withLock { readCounts[label] ?? 0 } }
    func countRead(_ label: String) { faultsLock.withLock { readCounts[label, default: 0] += 1 } }
    private var readCounts: [String: Int] = [:]

    func fault(for label: String) -> FaultyStore.Fault? {
        faultsLock.lock(); defer { faultsLock.unlock() }; return faults[label]
    }

    /// The object file of `id` in store `index`.
    public func objectPath(_ id: String, store index: Int) -> String {
        folder.at("drive\(index)/.trove/objects/\(id.prefix(2))/\(id.dropFirst(2))")
    }

    /// Where store `index` keeps the bytes of `id`: its own object file, or the pack holding it
    /// and the object's offset there; nil when the store holds neither.
    public func objectBytes(_ id: String, store index: Int) throws -> (path: String, offset: Int)? {
        guard let content = ContentID(id) else { return nil }
        if let packed = try (library.catalog as? any PackIndex)?.packedObject(store: stores[index].id, id: content) {
            return (objectPath(packed.pack.description, store: index), Int(packed.offset))
        }
        let path = objectPath(id, store: index)
        return FileManager.default.fileExists(atPath: path) ? (path, 0) : nil
    }

    /// Flips one bit of the object's bytes where store `index` keeps them (packed or not).
    public func flipBit(ofObject id: String, store index: Int, at offset: Int) throws {
        let place = try #require(try objectBytes(id, store: index))
        try TroveTesting.flipBit(in: place.path, at: place.offset + offset)
    }

    /// Events of a kind.
    public func events(_ kind: EventKind) throws -> [Event] {
        try library.catalog.events(after: nil, kind: kind, limit: nil)
    }
}
