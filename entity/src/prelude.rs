pub use super::device::Entity as Device;
pub use super::user::Entity as User;
