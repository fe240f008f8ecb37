namespace Redswitch.Protocol.Headers;

/// <summary>One header: its name and its decoded value.</summary>
public readonly record struct EslHeader(string Name, string Value)
{
    public override string ToString() => $"{Name}: {Value}";
}
