import TroveCore

/// A store that keeps each object as shares on other stores (a grid): a copy there is worth
/// what its shares survive, object by object, and the store can check and repair the shares.
public protocol ShareStore: Store {
    /// Checks the shares of one object on every member (presence and integrity of each share's
    /// footer and hash list; with `fromMedia`, every block read from the medium and hashed),
    /// repairs as `repair` says, and tells what the object's shares are worth now.
    func audit(_ id: ContentID, fromMedia: Bool, repair: ShareRepair) throws -> ShareAudit
    /// The durability of an object whose every share sits where the grid places them now: what
    /// a copy there is worth once healthy.
    var fullWeight: Int { get }
}

/// When an audit writes new shares.
public enum ShareRepair: Sendable {
    /// Never (verify with repair off).
    case none
    /// When the good shares have fallen to the grid's repair threshold (not at the first loss).
    case atThreshold
    /// Whenever a member that can take a share holds none (rebalancing onto new members).
    case fill
}

/// What auditing one object's shares found and did.
public struct ShareAudit: Sendable, Equatable {
    /// Distinct good share numbers found now.
    public var good: Int
    /// Shares needed to read the object.
    public var needed: Int
    /// What the object's shares are worth now (`gridWeight`): good shares on trusted members,
    /// plus those presumed on trusted members out of reach (like a copy on an unplugged drive).
    public var weight: Int
    /// Bad or missing shares, one line each, naming the member.
    public var problems: [String]
    /// Members that received a new share.
    public var repaired: [String]
    /// Members that could not be asked, with why.
    public var unreachable: [String]

    public init(good: Int, needed: Int, weight: Int, problems: [String] = [], repaired: [String] = [], unreachable: [String] = []) {
        self.good = good
        self.needed = needed
        self.weight = weight
        self.problems = problems
        self.repaired = repaired
        self.unreachable = unreachable
    }
}
