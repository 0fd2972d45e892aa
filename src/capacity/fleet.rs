//! Fleet size: how many instances serve a request rate, with headroom and redundancy.
//!
//! ```text
//! usable   = (1 − H) · X₁                  each instance runs at most at (1 − H) of what it can
//! needed   = ⌈required_rps / usable⌉       instances that carry the load
//! instances = needed + r                   N+r redundancy
//! ```
//!
//! With `--zones Z` the fleet must also survive losing a whole zone: after any one zone is
//! gone, the other Z − 1 zones must still hold `needed + r` instances. Spread evenly:
//!
//! ```text
//! per_zone  = ⌈(needed + r) / (Z − 1)⌉
//! instances = Z · per_zone
//! ```

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetInput {
    pub required_rps: f64,
    /// What one instance sustains (under the SLA), per second.
    pub per_instance_rps: f64,
    /// Share of each instance kept free, in [0, 1).
    pub headroom: f64,
    pub redundancy: u32,
    pub zones: Option<u32>,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fleet {
    /// Requests per second each instance is planned to carry.
    pub usable_per_instance: f64,
    /// Instances that carry the load, before redundancy.
    pub needed: u64,
    pub instances: u64,
    /// With zones: (zones, instances per zone).
    pub zones: Option<(u32, u64)>,
}

/// `⌈v⌉`, forgiving the last bits of floating-point error (10 / (0.5 · 2) is 10, not 11).
fn ceil(v: f64) -> u64 {
    let r = v.round();
    if (v - r).abs() <= 1e-9 * v.abs().max(1.0) {
        r as u64
    } else {
        v.ceil() as u64
    }
}

/// Why a fleet cannot be sized from its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    #[error("the per-instance rate must be above zero (got {0})")]
    PerInstanceRate(f64),
    /// `0`: the headroom in percent.
    #[error("headroom must be at least 0 % and below 100 % (got {0})")]
    Headroom(f64),
    #[error("the required rate must be zero or more (got {0})")]
    RequiredRate(f64),
    #[error("--zones {0}: surviving the loss of a zone needs at least 2 zones")]
    Zones(u32),
}

/// Why a `--headroom` value is refused (`0`: as written, trimmed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeadroomError {
    #[error("`{0}` is not a share: write e.g. `30%` or `0.3`")]
    NotAShare(String),
    #[error("`{0}`: headroom must be at least 0 % and below 100 %")]
    OutOfRange(String),
}

/// Size the fleet (see the module doc).
pub fn size(input: &FleetInput) -> Result<Fleet, FleetError> {
    let FleetInput {
        required_rps,
        per_instance_rps,
        headroom,
        redundancy,
        zones,
    } = *input;
    if !(per_instance_rps.is_finite() && per_instance_rps > 0.0) {
        return Err(FleetError::PerInstanceRate(per_instance_rps));
    }
    if !(0.0..1.0).contains(&headroom) {
        return Err(FleetError::Headroom(headroom * 100.0));
    }
    if !(required_rps.is_finite() && required_rps >= 0.0) {
        return Err(FleetError::RequiredRate(required_rps));
    }
    let usable = (1.0 - headroom) * per_instance_rps;
    let needed = ceil(required_rps / usable);
    let with_spares = needed + u64::from(redundancy);
    let (instances, zones) = match zones {
        None => (with_spares, None),
        Some(z) if z < 2 => {
            return Err(FleetError::Zones(z));
        }
        Some(z) => {
            let per_zone = ceil(with_spares as f64 / f64::from(z - 1));
            (u64::from(z) * per_zone, Some((z, per_zone)))
        }
    };
    Ok(Fleet {
        usable_per_instance: usable,
        needed,
        instances,
        zones,
    })
}

/// `30%` or `0.3` → 0.3; refuses values outside [0, 1).
pub fn parse_headroom(text: &str) -> Result<f64, HeadroomError> {
    let s = text.trim();
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| HeadroomError::NotAShare(s.into()))?;
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(HeadroomError::OutOfRange(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(required_rps: f64, x1: f64, h: f64, r: u32, z: Option<u32>) -> FleetInput {
        FleetInput {
            required_rps,
            per_instance_rps: x1,
            headroom: h,
            redundancy: r,
            zones: z,
        }
    }

    #[test]
    fn the_issue_example() {
        let f = size(&input(31_250.0, 2_400.0, 0.3, 1, None)).unwrap();
        assert_eq!(f.usable_per_instance, 1_680.0);
        assert_eq!((f.needed, f.instances), (19, 20));
    }

    #[test]
    fn exact_multiples_do_not_round_up() {
        let f = size(&input(1_000.0, 200.0, 0.5, 0, None)).unwrap();
        assert_eq!(f.instances, 10);
        assert_eq!(size(&input(0.0, 10.0, 0.0, 2, None)).unwrap().instances, 2);
    }

    #[test]
    fn zone_loss_keeps_needed_plus_spares() {
        // 19 needed + 1 spare over 3 zones: 10 per zone, 30 in all; lose one → 20 left.
        let f = size(&input(31_250.0, 2_400.0, 0.3, 1, Some(3))).unwrap();
        assert_eq!(f.zones, Some((3, 10)));
        assert_eq!(f.instances, 30);
        let (z, per) = f.zones.unwrap();
        let spares = 1;
        assert!(u64::from(z - 1) * per >= f.needed + spares);
        assert!(size(&input(1.0, 1.0, 0.0, 0, Some(1))).is_err());
    }

    #[test]
    fn headroom_parses_and_is_checked() {
        assert_eq!(parse_headroom("30%"), Ok(0.3));
        assert_eq!(parse_headroom("0.25"), Ok(0.25));
        assert_eq!(parse_headroom("0%"), Ok(0.0));
        assert!(parse_headroom("100%").is_err());
        assert!(parse_headroom("-5%").is_err());
        assert!(parse_headroom("lots").is_err());
        assert!(size(&input(1.0, 0.0, 0.1, 0, None)).is_err());
    }
}
