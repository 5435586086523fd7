import Foundation
import TroveStorage

/// A store this machine hosts for paired peers at every `trove serve --listen` (`trove host add`).
public struct HostedEntry: Codable, Sendable, Equatable {
    public var name: String
    public var folder: String
    public var added: Date
    public init(name: String, folder: String, added: Date) {
        self.name = name
        self.folder = folder
        self.added = added
    }
}

/// The library's `hosted.json`: the stores `trove serve --listen` hosts, read again whenever it
/// changes, so stores are added and removed while the server runs.
public struct HostedList: Codable, Sendable, Equatable {
    public var stores: [HostedEntry] = []
    public init() {}
}

public struct HostedListFile: Sendable {
    let file: LockedJSONFile<HostedList>

    public init(library: String) {
        file = LockedJSONFile(folder: library, name: "hosted.json",
                              damagedAdvice: "fix it, or remove it and add the hosted stores again with `trove host add`.")
    }

    public func load() throws -> HostedList { try file.load(empty: HostedList()) }

    @discardableResult
    public func update<T>(_ change: (inout HostedList) throws -> T) throws -> T { try file.update(empty: HostedList(), change) }

    public func stamp() -> String { file.stamp() }
}
