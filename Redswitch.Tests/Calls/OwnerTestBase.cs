namespace Redswitch.Tests.Calls;

/// <summary>A fresh <see cref="OwnerHarness"/> per test; after each, nothing failed inside the owner.</summary>
public abstract class OwnerTestBase
{
    private protected OwnerHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new OwnerHarness();

    [TearDown]
    public void NothingWentWrongInside()
    {
        Assert.That(_h.Log.Lines.Where(l => l.Contains(" Erro ", StringComparison.Ordinal)), Is.Empty, "an input failed inside the owner");
        Assert.That(_h.WrongIds, Is.Empty);
    }
}
