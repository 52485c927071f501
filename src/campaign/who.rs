//! Who runs this process: the name job files, freezes, swaps and locks record.

pub(crate) fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default()
}
