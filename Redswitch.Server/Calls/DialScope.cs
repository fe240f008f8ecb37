using System.Collections;

namespace Redswitch.Server.Calls;

/// <summary>The logging scope of a call: structured (<c>dial_id</c>) for JSON logs, <c>dial_id=…</c> in text logs.</summary>
public sealed class DialScope(string dialId) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?> _item = new("dial_id", dialId);

    public KeyValuePair<string, object?> this[int index] =>
        index == 0 ? _item : throw new ArgumentOutOfRangeException(nameof(index));

    public int Count => 1;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return _item;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "dial_id=" + _item.Value;
}
