//! Fields: a latest value with change notification, like SOME/IP fields.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::{
    Closed, Congestion, Error, Message, Pack, PublishError, Publisher, Reliability, Sample, Topic,
    TopicStats, node::Node, subscriber::CallbackSubscriber,
};

/// Builds a [`FieldOwner`]; from [`Node::field_owner`].
#[must_use = "call .create().await to declare the field's owner"]
pub struct FieldOwnerBuilder<'n, T> {
    pub(crate) node: &'n Node,
    pub(crate) topic: Topic<T>,
}

impl<T: Message> FieldOwnerBuilder<'_, T> {
    /// Declare the owner on the bus.
    pub async fn create(self) -> Result<FieldOwner<T>, Error> {
        FieldOwner::declare(self.node, self.topic).await
    }
}

/// Builds a [`FieldClient`]; from [`Node::field_client`].
#[must_use = "call .create().await to follow the field"]
pub struct FieldClientBuilder<'n, T> {
    pub(crate) node: &'n Node,
    pub(crate) topic: Topic<T>,
}

impl<T: Message> FieldClientBuilder<'_, T> {
    /// Follow the field: the current value (if its owner has set one) is there when this returns.
    pub async fn create(self) -> Result<FieldClient<T>, Error> {
        FieldClient::declare(self.node, self.topic).await
    }
}

/// The owner of a field: sets its value. The latest value is kept for late joiners.
pub struct FieldOwner<T> {
    publisher: Publisher<T>,
}

impl<T: Message> FieldOwner<T> {
    async fn declare(node: &Node, topic: Topic<T>) -> Result<Self, Error> {
        // A field is state, not a stream: reliable, never dropped, at least the latest value kept.
        let q = topic.qos();
        let qos =
            q.reliability(Reliability::Reliable).congestion(Congestion::Block).history(q.history.max(1));
        Ok(Self { publisher: node.publisher(topic).qos(qos).create().await? })
    }

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

impl<T: Message> FieldClient<T> {
    async fn declare(node: &Node, topic: Topic<T>) -> Result<Self, Error> {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let q = topic.qos();
        let qos = q.reliability(Reliability::Reliable).history(q.history.max(1));
        let sub = node
            .subscriber(topic)
            .qos(qos)
            .callback(move |s| {
                tx.send_replace(Some(s));
            })
            .create()
            .await?;
        Ok(Self { rx, sub })
    }

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
