//! Fields: a latest value with change notification, like SOME/IP fields.

use std::marker::PhantomData;

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::{
    Closed, Congestion, Error, Message, Pack, PublishError, Publisher, QoS, Reliability, Sample, TopicStats,
    TypeInfo,
    node::Node,
    publisher::PublisherBuilder,
    subscriber::{CallbackSubscriber, SubscriberBuilder},
};

/// Builds a [`FieldOwner`]; from [`Node::field_owner`].
#[must_use = "call .create().await to declare the field's owner"]
pub struct FieldOwnerBuilder<'n, T> {
    node: &'n Node,
    key: String,
    ty: TypeInfo,
    qos: QoS,
    _type: PhantomData<fn() -> T>,
}

impl<'n, T> FieldOwnerBuilder<'n, T> {
    pub(crate) fn new(node: &'n Node, key: &str, ty: TypeInfo, qos: QoS) -> Self {
        Self { node, key: key.to_owned(), ty, qos, _type: PhantomData }
    }

    /// Replace the topic's QoS (reliability, congestion and history are a field's: reliable,
    /// blocking, the latest value kept at least).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Declare the owner on the bus.
    pub async fn create(self) -> Result<FieldOwner<T>, Error> {
        // A field is state, not a stream: reliable, never dropped, at least the latest value kept.
        let q = self.qos;
        let qos =
            q.reliability(Reliability::Reliable).congestion(Congestion::Block).history(q.history.max(1));
        let publisher = PublisherBuilder::new(self.node, &self.key, self.ty, qos).create().await?;
        Ok(FieldOwner { publisher })
    }
}

/// Builds a [`FieldClient`]; from [`Node::field_client`].
#[must_use = "call .create().await to follow the field"]
pub struct FieldClientBuilder<'n, T> {
    node: &'n Node,
    key: String,
    ty: TypeInfo,
    qos: QoS,
    _type: PhantomData<fn() -> T>,
}

impl<'n, T: Send + Sync + 'static> FieldClientBuilder<'n, T> {
    pub(crate) fn new(node: &'n Node, key: &str, ty: TypeInfo, qos: QoS) -> Self {
        Self { node, key: key.to_owned(), ty, qos, _type: PhantomData }
    }

    /// Replace the topic's QoS (reliability and history are a field's).
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Follow the field: the current value (if its owner has set one) is there when this returns.
    pub async fn create(self) -> Result<FieldClient<T>, Error> {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let q = self.qos;
        let qos = q.reliability(Reliability::Reliable).history(q.history.max(1));
        let sub = SubscriberBuilder::new(self.node, &self.key, self.ty, qos)
            .callback(move |s| {
                tx.send_replace(Some(s));
            })
            .create()
            .await?;
        Ok(FieldClient { rx, sub })
    }
}

/// The owner of a field: sets its value. The latest value is kept for late joiners.
pub struct FieldOwner<T> {
    publisher: Publisher<T>,
}

impl<T: Message> FieldOwner<T> {
    /// Set the value and notify followers.
    pub fn set(&mut self, value: &impl Pack<T>) -> Result<(), PublishError> {
        self.publisher.publish(value)
    }

    /// Set the value, built in place.
    pub fn set_with<F>(&mut self, build: F) -> Result<(), PublishError>
    where
        F: for<'b> FnOnce(&mut FlatBufferBuilder<'b>) -> WIPOffset<T::View<'b>>,
    {
        self.publisher.publish_with(build)
    }
}

impl<T> FieldOwner<T> {
    /// Set the value from FlatBuffers bytes built elsewhere (bindings), verified first.
    pub fn set_bytes(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        self.publisher.publish_bytes(bytes)
    }

    /// Counters.
    pub fn stats(&self) -> TopicStats {
        self.publisher.stats()
    }
}

/// Follows a field: [`FieldClient::get`] is the current value, [`FieldClient::changed`] waits for
/// the next one.
pub struct FieldClient<T> {
    rx: tokio::sync::watch::Receiver<Option<Sample<T>>>,
    sub: CallbackSubscriber<T>,
}

impl<T: Send + Sync + 'static> FieldClient<T> {
    /// The current value (`None` until the owner has set one).
    pub fn get(&self) -> Option<Sample<T>> {
        self.rx.borrow().clone()
    }

    /// Wait for a value newer than the last one seen through this method (the first call returns
    /// at once if a value is already known).
    pub async fn changed(&mut self) -> Result<Sample<T>, Closed> {
        if self.rx.borrow().is_none() || !self.rx.has_changed().map_err(|_| Closed)? {
            self.rx.changed().await.map_err(|_| Closed)?;
        }
        let v = self.rx.borrow_and_update().clone();
        v.ok_or(Closed)
    }

    /// Counters.
    pub fn stats(&self) -> TopicStats {
        self.sub.stats()
    }
}
