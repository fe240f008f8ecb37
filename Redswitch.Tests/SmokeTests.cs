namespace Redswitch.Tests;

public class SmokeTests
{
    [Test]
    public void CapturesAreCopied() =>
        Assert.That(File.Exists(Path.Combine(TestContext.CurrentContext.TestDirectory, "Captures", "call-barge.jsonl")), Is.True);
}
