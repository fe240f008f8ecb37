namespace Redswitch.Tests.Infrastructure;

/// <summary>Awaiting a condition, bounded in time: never a fixed sleep.</summary>
public static class Waits
{
    public static Task UntilAsync(Func<bool> condition, double seconds, string what) =>
        UntilAsync(() => Task.FromResult(condition()), seconds, what);

    public static async Task UntilAsync(Func<Task<bool>> condition, double seconds, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"timed out after {seconds} s waiting for {what}");
            await Task.Delay(20);
        }
    }
}
