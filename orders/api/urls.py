from rest_framework.routers import SimpleRouter

from orders.api.views import CustomerTokenViewSet, OrderViewSet, ReturnViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("returns", ReturnViewSet, basename="return")
router.register("customer-tokens", CustomerTokenViewSet, basename="customer-token")

urlpatterns = router.urls
