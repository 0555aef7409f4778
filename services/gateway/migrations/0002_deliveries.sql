-- Delivery state of every async message published into an inbox by this gateway.
create table deliveries (
    message_id   text primary key,
    sender_id    text not null,
    recipient_id text not null,
    service_id   text not null,
    gateway_id   text not null,
    status       text not null check (status in ('ON_DELIVERY', 'DELIVERED', 'NOT_DELIVERED', 'DELIVERY_STOPPED')),
    detail       text not null default '',
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
create index deliveries_pending on deliveries (created_at) where status = 'ON_DELIVERY';
create index deliveries_sender on deliveries (sender_id, message_id);
