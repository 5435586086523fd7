/// An error a user can act on: one sentence saying what happened and what to do, and an exit code.
public struct TroveError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable categories; each maps to a documented exit code.
    public enum Code: String, Sendable {
        case usage, malformedID, unknownFile, libraryMissing, libraryExists, pathMissing,
             pathUnreadable, storeUnknown, storeNotWritable, storeNotConnected, storeConflict,
             diskFull, io, corruptData, noGoodCopy, catalog, catalogDamaged, busy
    }

    public let code: Code
    /// What happened and what to do, for the user.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Process exit status (sysexits-style; see README "Exit codes").
    public var exitCode: Int32 {
        switch code {
        case .usage, .malformedID: 64
        case .corruptData, .noGoodCopy: 65
        case .unknownFile, .libraryMissing, .pathMissing, .storeUnknown: 66
        case .pathUnreadable: 77
        case .storeNotWritable, .libraryExists, .storeConflict: 73
        case .diskFull, .io, .catalog, .catalogDamaged: 74
        case .storeNotConnected, .busy: 75
        }
    }
}
