// Package inbound converts between normalized inbound events
// (plugins.InboundEvent) and the Event resources that store them, and names
// Events after their deliveries so a redelivery maps to the same object.
package inbound
