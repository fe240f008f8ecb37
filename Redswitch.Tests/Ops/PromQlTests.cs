namespace Redswitch.Tests.Ops;

/// <summary>The name extraction the dashboard and alert checks rely on: it must find every name, and only names.</summary>
public class PromQlTests
{
    [TestCase("up{job=\"redswitch\"} == 0", new[] { "up" })]
    [TestCase("max by (instance) (redswitch_esl_links_up) == 0", new[] { "redswitch_esl_links_up" })]
    [TestCase("histogram_quantile(0.99, sum by (le) (rate(redswitch_originate_latency_seconds_bucket{job=\"$job\",instance=~\"$instance\"}[$__rate_interval])))",
        new[] { "redswitch_originate_latency_seconds_bucket" })]
    [TestCase("sum(rate(a_total{result=~\"failure|invalid\"}[5m])) / sum without (type) (rate(a_total[5m] offset 1h)) > 0.1 and on(instance) b_gauge",
        new[] { "a_total", "b_gauge" })]
    [TestCase("count(max by (node) (x{node!~\"sum|rate\"}) == 1) or vector(0)", new[] { "x" })]
    [TestCase("c / ignoring(le) group_left d unless e", new[] { "c", "d", "e" })]
    [TestCase("max_over_time(f[1m:15s]) > bool 2e3", new[] { "f" })]
    public void FindsTheMetricNamesAndNothingElse(string expr, string[] names) =>
        Assert.That(PromQl.MetricNames(expr), Is.EquivalentTo(names));

    [Test]
    public void AnUnexportedNameIsReported()
    {
        // the check the e2e test makes, on a known exposition: a bogus name, a histogram's bare name and a typo are caught
        var exposition = new Exposition("""
            # HELP h_seconds x
            # TYPE h_seconds histogram
            h_seconds_bucket{le="1"} 0
            h_seconds_sum 0
            h_seconds_count 0
            # HELP c_total x
            # TYPE c_total counter
            # HELP g x
            # TYPE g gauge
            g 1
            """);
        var expr = "rate(h_seconds_bucket[5m]) + rate(h_seconds_count[5m]) + c_total + g + h_seconds + redswitch_bogus_total + c_totl";
        var missing = PromQl.MetricNames(expr).Where(n => !exposition.Exports(n)).ToList();
        Assert.That(missing, Is.EquivalentTo(new[] { "h_seconds", "redswitch_bogus_total", "c_totl" }));
    }
}
