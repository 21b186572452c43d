from django.contrib import admin

from orders.models import Customer, Order, Product, Return

admin.site.register([Customer, Order, Product, Return])
