//! The rules new camera network settings meet before anything is sent: a real IPv4 host address, a
//! contiguous mask, a gateway inside the camera's own subnet, and an address the recorder can still
//! reach (inside the subnet of the recorder's interface that reaches the camera today).

use std::net::Ipv4Addr;

use crate::model::NetworkChange;

/// What is wrong with new network settings, and which entry it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkProblem {
    /// The mask is not ones then zeros (255.255.0.255), or not 1 to 30 bits.
    MaskNotContiguous,
    /// The address is the subnet's own address or its broadcast address, or not a host address at all.
    NotHostAddress,
    /// The address is outside the subnet the recorder reaches the camera on.
    AddressOutsideSubnet {
        /// That subnet, `192.168.1.0/24`.
        subnet: String,
    },
    /// The gateway is outside the camera's new subnet, or is the camera's own address.
    GatewayOutsideSubnet {
        /// The camera's new subnet.
        subnet: String,
    },
}

impl NetworkProblem {
    /// The entry it is about, as the service's field keys name it.
    pub fn field(&self) -> &'static str {
        match self {
            NetworkProblem::MaskNotContiguous => "mask",
            NetworkProblem::NotHostAddress | NetworkProblem::AddressOutsideSubnet { .. } => {
                "address"
            }
            NetworkProblem::GatewayOutsideSubnet { .. } => "gateway",
        }
    }
}

/// A mask written as 255.255.255.0 or as a prefix length (24), as a prefix length from 1 to 30. A mask
/// that is not ones then zeros is refused.
pub fn prefix_of_mask(text: &str) -> Result<u8, NetworkProblem> {
    let text = text.trim().trim_start_matches('/');
    let prefix = if let Ok(bits) = text.parse::<u8>() {
        bits
    } else {
        let mask: Ipv4Addr = text
            .parse()
            .map_err(|_| NetworkProblem::MaskNotContiguous)?;
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() != 32 {
            return Err(NetworkProblem::MaskNotContiguous);
        }
        bits.leading_ones() as u8
    };
    if (1..=30).contains(&prefix) {
        Ok(prefix)
    } else {
        Err(NetworkProblem::MaskNotContiguous)
    }
}

/// The mask of a prefix length, 255.255.255.0 for 24.
pub fn mask_of_prefix(prefix_len: u8) -> Ipv4Addr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(bits)
}

/// The subnet `address` is in with `prefix_len`, as its first address.
pub fn subnet_of(address: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(address) & u32::from(mask_of_prefix(prefix_len)))
}

/// Whether `address` is inside `subnet`/`prefix_len`.
pub fn in_subnet(address: Ipv4Addr, subnet: Ipv4Addr, prefix_len: u8) -> bool {
    subnet_of(address, prefix_len) == subnet_of(subnet, prefix_len)
}

/// Checks new settings. `reached_on` is the subnet (an address in it and its prefix length) of the
/// recorder's interface that reaches the camera now, when the recorder has one: a camera moved out of
/// it could no longer be reached. With DHCP on, only the mask and gateway the camera keeps are checked.
pub fn check_network_change(
    change: &NetworkChange,
    reached_on: Option<(Ipv4Addr, u8)>,
) -> Result<(), NetworkProblem> {
    if !(1..=30).contains(&change.prefix_len) {
        return Err(NetworkProblem::MaskNotContiguous);
    }
    let address = change.address;
    let subnet = subnet_of(address, change.prefix_len);
    let broadcast =
        Ipv4Addr::from(u32::from(subnet) | !u32::from(mask_of_prefix(change.prefix_len)));
    if !change.dhcp
        && (address == subnet
            || address == broadcast
            || address.is_unspecified()
            || address.is_multicast()
            || address.is_broadcast())
    {
        return Err(NetworkProblem::NotHostAddress);
    }
    if !change.dhcp
        && let Some((recorder, prefix_len)) = reached_on
        && !in_subnet(address, recorder, prefix_len)
    {
        return Err(NetworkProblem::AddressOutsideSubnet {
            subnet: format!("{}/{prefix_len}", subnet_of(recorder, prefix_len)),
        });
    }
    if let Some(gateway) = change.gateway
        && (!in_subnet(gateway, address, change.prefix_len)
            || gateway == address
            || gateway == subnet
            || gateway == broadcast)
    {
        return Err(NetworkProblem::GatewayOutsideSubnet {
            subnet: format!("{subnet}/{}", change.prefix_len),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, prefix_len: u8, gateway: Option<&str>) -> NetworkChange {
        NetworkChange {
            address: address.parse().unwrap(),
            prefix_len,
            gateway: gateway.map(|g| g.parse().unwrap()),
            dhcp: false,
        }
    }

    #[test]
    fn masks_are_read_dotted_or_as_a_prefix_and_must_be_contiguous() {
        assert_eq!(prefix_of_mask("255.255.255.0"), Ok(24));
        assert_eq!(prefix_of_mask("255.255.240.0"), Ok(20));
        assert_eq!(prefix_of_mask("/16"), Ok(16));
        assert_eq!(prefix_of_mask("24"), Ok(24));
        for bad in [
            "255.0.255.0",
            "255.255.255.253",
            "0.0.0.0",
            "255.255.255.255",
            "33",
            "mask",
            "",
        ] {
            assert_eq!(
                prefix_of_mask(bad),
                Err(NetworkProblem::MaskNotContiguous),
                "{bad}"
            );
        }
        assert_eq!(mask_of_prefix(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(mask_of_prefix(20), Ipv4Addr::new(255, 255, 240, 0));
    }

    #[test]
    fn an_address_outside_the_recorders_subnet_is_refused() {
        let lan = Some((Ipv4Addr::new(192, 168, 1, 10), 24));
        assert_eq!(
            check_network_change(&change("192.168.1.64", 24, Some("192.168.1.1")), lan),
            Ok(())
        );
        assert_eq!(
            check_network_change(&change("192.168.2.64", 24, None), lan),
            Err(NetworkProblem::AddressOutsideSubnet {
                subnet: "192.168.1.0/24".into()
            })
        );
        // Unknown reach: only the camera's own subnet rules apply.
        assert_eq!(
            check_network_change(&change("10.0.0.5", 8, Some("10.0.0.1")), None),
            Ok(())
        );
    }

    #[test]
    fn the_subnet_and_broadcast_addresses_are_not_host_addresses() {
        for bad in ["192.168.1.0", "192.168.1.255"] {
            assert_eq!(
                check_network_change(&change(bad, 24, None), None),
                Err(NetworkProblem::NotHostAddress),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_gateway_outside_the_cameras_subnet_is_refused() {
        for bad in [
            "192.168.2.1",
            "192.168.1.64",
            "192.168.1.255",
            "192.168.1.0",
        ] {
            assert_eq!(
                check_network_change(&change("192.168.1.64", 24, Some(bad)), None),
                Err(NetworkProblem::GatewayOutsideSubnet {
                    subnet: "192.168.1.0/24".into()
                }),
                "{bad}"
            );
        }
        assert_eq!(
            check_network_change(&change("192.168.1.64", 16, Some("192.168.7.1")), None),
            Ok(())
        );
    }

    #[test]
    fn with_dhcp_on_the_address_is_not_checked() {
        let mut on_dhcp = change("0.0.0.0", 24, None);
        on_dhcp.dhcp = true;
        assert_eq!(
            check_network_change(&on_dhcp, Some((Ipv4Addr::new(10, 0, 0, 1), 24))),
            Ok(())
        );
    }
}
