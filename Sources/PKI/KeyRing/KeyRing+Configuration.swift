extension KeyRing {
    /// The rotation schedule.
    ///
    /// With the defaults, a key is published a day before it signs, signs for 30 days, and stays published a day
    /// and five minutes after that: each key is in the JWKS for about 32 days, and the JWKS holds two keys per
    /// algorithm most of the time (three for a day around each rotation).
    ///
    /// | setting | default | must be |
    /// |---|---|---|
    /// | ``rotationInterval`` | 30 days | > ``publishLead`` |
    /// | ``publishLead`` | 24 h | ≥ the longest time a verifier caches the JWKS |
    /// | ``maxTokenTTL`` | 24 h | ≥ the longest `ttl` of any gateway JWT (`GatewayJWT.maximumTTL`) |
    /// | ``removalSlack`` | 5 min | ≥ verifiers' clock leeway plus clock skew |
    public struct Configuration: Sendable, Hashable, Codable {
        public static let defaultRotationInterval = Duration.seconds(30 * 86_400)
        public static let defaultPublishLead = Duration.seconds(86_400)
        public static let defaultMaxTokenTTL = Duration.seconds(86_400)
        public static let defaultRemovalSlack = Duration.seconds(300)

        /// How long each key signs before its successor takes over.
        public var rotationInterval: Duration
        /// How long a new key is published before it signs: at least the JWKS cache lifetime verifiers honour
        /// (the gateway serves `Cache-Control: max-age=3600`), with margin for those that cache longer.
        public var publishLead: Duration
        /// The longest lifetime of any token a key signs; a retired key stays published this long.
        public var maxTokenTTL: Duration
        /// Extra time a retired key stays published after its last token expired: verifier leeway, clock skew.
        public var removalSlack: Duration

        public init(
            rotationInterval: Duration = defaultRotationInterval,
            publishLead: Duration = defaultPublishLead,
            maxTokenTTL: Duration = defaultMaxTokenTTL,
            removalSlack: Duration = defaultRemovalSlack
        ) {
            self.rotationInterval = rotationInterval
            self.publishLead = publishLead
            self.maxTokenTTL = maxTokenTTL
            self.removalSlack = removalSlack
        }

        /// Checks the ranges in the table above that can be checked here.
        ///
        /// - Throws: ``PKIError/Code/invalidConfiguration``.
        public func validate() throws {
            guard publishLead >= .zero, removalSlack >= .zero else {
                throw PKIError(.invalidConfiguration, "publishLead and removalSlack must not be negative")
            }
            guard maxTokenTTL >= .seconds(1) else {
                throw PKIError(.invalidConfiguration, "maxTokenTTL must be at least a second")
            }
            guard rotationInterval > publishLead else {
                throw PKIError(
                    .invalidConfiguration,
                    "rotationInterval (\(rotationInterval)) must be longer than publishLead (\(publishLead))"
                )
            }
        }

        enum CodingKeys: String, CodingKey {
            case rotationInterval = "rotationIntervalSeconds"
            case publishLead = "publishLeadSeconds"
            case maxTokenTTL = "maxTokenTTLSeconds"
            case removalSlack = "removalSlackSeconds"
        }

        /// Decodes whole seconds.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            rotationInterval = .seconds(try container.decode(Int64.self, forKey: .rotationInterval))
            publishLead = .seconds(try container.decode(Int64.self, forKey: .publishLead))
            maxTokenTTL = .seconds(try container.decode(Int64.self, forKey: .maxTokenTTL))
            removalSlack = .seconds(try container.decode(Int64.self, forKey: .removalSlack))
        }

        /// Encodes whole seconds (rounded down).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rotationInterval.components.seconds, forKey: .rotationInterval)
            try container.encode(publishLead.components.seconds, forKey: .publishLead)
            try container.encode(maxTokenTTL.components.seconds, forKey: .maxTokenTTL)
            try container.encode(removalSlack.components.seconds, forKey: .removalSlack)
        }
    }
}
