"""Staff pages in the admin: the operations dashboard and the capacity planner."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from billing.cost_ledger import format_dollars
from config.errors import ApplicationError

from . import capacity, charts
from .forms import CapacityPlanForm
from .selectors import operations_report

# Top customers by spend are billing data: staff who may see the cost ledger (Support,
# Billing and superusers) see the dashboard.
DASHBOARD_PERMISSION = "billing.view_costwindow"


def _minutes(seconds):
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


@never_cache
def operations_dashboard(request):
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    try:
        hours = min(max(int(request.GET.get("hours", 24)), 1), 7 * 24)
    except ValueError:
        hours = 24
    report = operations_report(hours=hours)
    every = max(1, hours // 12)
    jobs_chart = charts.stacked_bars(
        [(f"{row['hour']:%H}h", {o: row[o] for o in ("done", "failed", "cancelled")})
         for row in report.jobs_per_hour], ["done", "failed", "cancelled"], label_every=every)
    spend_chart = charts.stacked_bars(
        [(f"{row['hour']:%H}h", {"spend": row["micros"] / 1e6}) for row in report.spend_per_hour],
        ["spend"], fmt=lambda v: f"${v:,.2f}", label_every=every)
    return render(request, "admin/operations/dashboard.html", {
        **admin.site.each_context(request), "title": "Operations", "report": report,
        "hours": hours, "jobs_chart": jobs_chart, "spend_chart": spend_chart,
        "turnaround_p50": _minutes(report.turnaround_p50),
        "turnaround_p95": _minutes(report.turnaround_p95),
        "spend_total": format_dollars(report.spend_total_micros),
        "top_customers": [{**row, "dollars": format_dollars(row["micros"])}
                          for row in report.top_customers],
    })


@never_cache
def capacity_planner(request):
    if not request.user.is_staff:
        raise PermissionDenied
    plan = chart = error = None
    status = 200
    try:
        results = capacity.bench_results_load()
    except ApplicationError as exc:
        results, error = [], exc.message
    form = CapacityPlanForm(request.GET or None, results=results)
    if request.GET:
        if form.is_valid():
            try:
                plan = capacity.capacity_plan(capacity.PlanInputs(**form.cleaned_data), results)
            except ApplicationError as exc:
                error, status = exc.message, exc.status
        else:
            status = 400
    if plan is not None:
        xs, selfs, manageds = plan.curve()
        chart = charts.lines(
            xs, {"self-hosted + Bedrock": selfs, "Transcribe + Bedrock": manageds},
            fmt=lambda v: f"${v:,.0f}", x_fmt=lambda v: f"{v:,.0f}",
            markers=[(plan.crossover_tasks, "crossover")] if plan.crossover_tasks else [])
    return render(request, "admin/operations/capacity.html", {
        **admin.site.each_context(request), "title": "Capacity planner", "form": form,
        "plan": plan, "chart": chart, "error": error, "results": results,
        "money": {key: format_dollars(getattr(plan, key)) for key in (
            "self_hosted_micros", "transcribe_micros", "captions_micros",
            "self_hosted_total_micros", "managed_total_micros")} if plan else {},
    }, status=status)
