public import Foundation
public import Kubernetes

/// Status conditions as Kubernetes conventions want them kept.
public enum ConditionList {
    /// `conditions` with the condition of `type` set: `lastTransitionTime` moves only when the
    /// status flips, so it says when the condition became what it is, not when it was last written.
    public static func setting(
        _ type: String,
        to status: Condition.Status,
        reason: String,
        message: String,
        observedGeneration: Int64?,
        in conditions: [Condition],
        now: Date
    ) -> [Condition] {
        var result = conditions
        let existing = conditions.firstIndex { $0.type == type }
        let transition = existing.map { conditions[$0].status == status ? conditions[$0].lastTransitionTime : RFC3339.string(from: now) }
            ?? RFC3339.string(from: now)
        let condition = Condition(
            type: type,
            status: status,
            reason: reason,
            message: message,
            observedGeneration: observedGeneration,
            lastTransitionTime: transition
        )
        if let existing { result[existing] = condition } else { result.append(condition) }
        return result
    }
}
