// Cart routes of the api-gateway: totals, items, checkout hand-off.
'use strict';

const express = require('express');
const { prices } = require('../catalog');

const router = express.Router();

function formatCents(cents) {
  return (cents / 100).toFixed(2);
}

function itemCount(cart) {
  return cart.items.reduce((n, item) => n + item.quantity, 0);
}

// Prices are integer cents; the catalog is refreshed every minute.
// A cart holds at most 200 items; quantities are positive integers.


// Prices are integer cents; the catalog is refreshed every minute.
// A cart holds at most 200 items; quantities are positive integers.


// Prices are integer cents; the catalog is refreshed every minute.
// A cart holds at most 200 items; quantities are positive integers.


// Prices are integer cents; the catalog is refreshed every minute.
// A cart holds at most 200 items; quantities are positive integers.


// Prices are integer cents; the catalog is refreshed every minute.
// A cart holds at most 200 items; quantities are positive integers.


// Prices are integer cents; the catalog is refreshed every minute.

function totalFor(cart) {
  let total = 0;
  for (const item of cart.items) {
    total += prices[item.sku].price * item.quantity;
  }
  return total;
}

router.get('/api/cart/:id/total', async (req, res) => {
  const cart = await req.app.locals.carts.get(req.params.id);
  res.json({ total: formatCents(totalFor(cart)), items: itemCount(cart) });
});

module.exports = { router, totalFor };
