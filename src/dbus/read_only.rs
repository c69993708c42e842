//! Properties.Set on vigild's objects. Every property vigild serves is read-only; zbus answers a Set
//! of one with `UnknownProperty`, as if it did not exist. [`ReadOnly`] wraps an object's interface so
//! a Set of a property it has answers `org.freedesktop.DBus.Error.PropertyReadOnly` naming it, and a
//! Set of one it lacks still answers `UnknownProperty`. Everything else passes through unchanged.

use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Deref;

use async_trait::async_trait;
use zbus::message::{Header, Message};
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult, Interface, SignalEmitter};
use zbus::{BoxDBusError, Connection, ObjectServer, OwnedVariant, Variant, fdo};

/// An object's interface whose properties refuse Set by name.
pub struct ReadOnly<I>(pub I);

impl<I> Deref for ReadOnly<I> {
    type Target = I;

    fn deref(&self) -> &I {
        &self.0
    }
}

/// Whether the interface's introspection lists a property called `name`.
fn has_property<I: Interface>(interface: &I, name: &str) -> bool {
    let mut xml = String::new();
    interface.introspect_to_writer(&mut xml, 0);
    let wanted = format!("<property name=\"{name}\"");
    xml.contains(&wanted)
}

#[async_trait]
impl<I: Interface> Interface for ReadOnly<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.0.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<OwnedVariant, BoxDBusError>> {
        self.0
            .get(property_name, server, connection, header, emitter)
            .await
    }

    async fn get_all(
        &self,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedVariant>> {
        self.0.get_all(server, connection, header, emitter).await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        _value: &'call Variant<'_>,
        _server: &'call ObjectServer,
        _connection: &'call Connection,
        _header: Option<&'call Header<'_>>,
        _emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult<'call> {
        if !has_property(&self.0, property_name) {
            return DispatchResult::NotFound;
        }
        let refusal: BoxDBusError = Box::new(fdo::Error::PropertyReadOnly(format!(
            "{property_name} is read-only"
        )));
        DispatchResult::Async(Box::pin(async move { Err(refusal) }))
    }

    async fn set_mut(
        &mut self,
        _property_name: &str,
        _value: &Variant<'_>,
        _server: &ObjectServer,
        _connection: &Connection,
        _header: Option<&Header<'_>>,
        _emitter: &SignalEmitter<'_>,
    ) -> Option<Result<(), BoxDBusError>> {
        // `set` never asks for the mutable path.
        None
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        message: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        self.0.call(server, connection, message, name)
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        message: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        self.0.call_mut(server, connection, message, name)
    }

    fn introspect_to_writer(&self, writer: &mut dyn Write, level: usize) {
        self.0.introspect_to_writer(writer, level)
    }
}
