"""Sequence number extension and outgoing sequence rewriting."""

from workers.seq_manager import (
    MAX_INPUT_AGE,
    SeqExtender,
    SeqManager,
    TimestampExtender,
    extend_seq,
    extend_timestamp,
)


def _outputs(manager: SeqManager, inputs: list[int]) -> list[int | None]:
    return [manager.input(seq) for seq in inputs]


def test_extend_seq_forward_wrap() -> None:
    assert extend_seq(0, 65535) == 65536
    assert extend_seq(5, 65530) == 65541


def test_extend_seq_backward_wrap() -> None:
    assert extend_seq(65535, 65536) == 65535
    assert extend_seq(65535, 0) == -1
    assert extend_seq(65000, 131072 + 10) == 65536 + 65000


def test_extend_seq_half_range_is_older() -> None:
    assert extend_seq(32768, 0) == -32768
    assert extend_seq(32767, 0) == 32767


def test_extend_timestamp_wrap() -> None:
    assert extend_timestamp(10, 0xFFFFFF00) == 0x1_0000_000A
    assert extend_timestamp(0xFFFFFF00, 0x1_0000_000A) == 0xFFFFFF00


def test_extender_across_wrap() -> None:
    extender = SeqExtender()
    values = [65533, 65534, 65535, 0, 1, 65535, 2]
    assert [extender.extend(v) for v in values] == [65533, 65534, 65535, 65536, 65537, 65535, 65538]
    assert extender.max == 65538


def test_extender_several_cycles() -> None:
    extender = SeqExtender()
    extended = [extender.extend(i & 0xFFFF) for i in range(0, 4 * 65536, 1000)]
    assert extended == list(range(0, 4 * 65536, 1000))


def test_extender_reset() -> None:
    extender = SeqExtender()
    extender.extend(65535)
    extender.extend(0)
    extender.reset()
    assert extender.max is None
    assert extender.extend(7) == 7


def test_timestamp_extender() -> None:
    extender = TimestampExtender()
    assert extender.extend(0xFFFFF000) == 0xFFFFF000
    assert extender.extend(0x00000100) == 0x1_0000_0100
    assert extender.extend(0xFFFFFF00) == 0xFFFFFF00


def test_manager_first_output() -> None:
    manager = SeqManager(first_output=1000)
    assert manager.max_output is None
    assert _outputs(manager, [50, 51, 52]) == [1000, 1001, 1002]
    assert manager.max_output == 1002


def test_manager_output_wraps() -> None:
    manager = SeqManager(first_output=65534)
    assert _outputs(manager, [10, 11, 12, 13]) == [65534, 65535, 0, 1]


def test_manager_input_wraps() -> None:
    manager = SeqManager(first_output=100)
    assert _outputs(manager, [65534, 65535, 0, 1]) == [100, 101, 102, 103]


def test_manager_drop_closes_gap() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11]) == [1, 2]
    manager.drop(12)
    manager.drop(13)
    assert _outputs(manager, [14, 15]) == [3, 4]


def test_manager_drop_across_wrap() -> None:
    manager = SeqManager(first_output=65534)
    assert _outputs(manager, [65533, 65534]) == [65534, 65535]
    manager.drop(65535)
    manager.drop(0)
    assert _outputs(manager, [1, 2]) == [0, 1]
    manager.drop(3)
    assert manager.input(4) == 2


def test_manager_dropped_input_rejected() -> None:
    manager = SeqManager(first_output=1)
    manager.input(10)
    manager.drop(11)
    assert manager.input(11) is None
    assert manager.input(12) == 2


def test_manager_drop_of_old_input_ignored() -> None:
    # 11 arrives late after 12 was sent, so dropping it cannot close any gap.
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 12]) == [1, 3]
    manager.drop(11)
    assert manager.input(13) == 4


def test_manager_drop_before_first_input_ignored() -> None:
    manager = SeqManager(first_output=1)
    manager.drop(9)
    assert _outputs(manager, [10, 11]) == [1, 2]


def test_manager_out_of_order() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11, 13, 12, 14]) == [1, 2, 4, 3, 5]


def test_manager_out_of_order_across_wrap() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [65534, 0, 65535, 1]) == [1, 3, 2, 4]


def test_manager_out_of_order_around_drop() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11]) == [1, 2]
    manager.drop(13)
    # 14 arrives before 12: both keep their place around the dropped 13.
    assert _outputs(manager, [14, 12, 15]) == [4, 3, 5]


def test_manager_drop_out_of_order() -> None:
    manager = SeqManager(first_output=1)
    manager.input(10)
    manager.drop(13)
    manager.drop(12)
    assert _outputs(manager, [11, 14]) == [2, 3]


def test_manager_duplicate_same_output() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11, 11, 10]) == [1, 2, 2, 1]


def test_manager_sync_after_pause() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [100, 101, 102]) == [1, 2, 3]
    # Paused: inputs 103..499 are never seen. Resumed on the key frame at 500.
    manager.sync(500)
    assert _outputs(manager, [500, 501]) == [4, 5]


def test_manager_sync_rejects_older_input() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [100, 101]) == [1, 2]
    manager.sync(200)
    assert manager.input(200) == 3
    assert manager.input(199) is None
    assert manager.input(101) is None
    assert manager.input(201) == 4


def test_manager_sync_across_wrap() -> None:
    manager = SeqManager(first_output=65535)
    assert manager.input(40000) == 65535
    manager.sync(65535)
    assert _outputs(manager, [65535, 0, 1]) == [0, 1, 2]


def test_manager_sync_after_long_pause() -> None:
    # More than half the sequence space passed while paused.
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11]) == [1, 2]
    manager.sync(50000)
    assert _outputs(manager, [50000, 50001]) == [3, 4]


def test_manager_sync_skip() -> None:
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 11]) == [1, 2]
    manager.sync(900, skip=1)
    assert manager.input(900) == 4


def test_manager_sync_clears_drops() -> None:
    manager = SeqManager(first_output=1)
    manager.input(10)
    manager.drop(11)
    manager.sync(11)
    assert _outputs(manager, [11, 12]) == [2, 3]


def test_manager_sync_before_first_input() -> None:
    manager = SeqManager(first_output=7)
    manager.sync(300)
    assert manager.input(300) == 7


def test_manager_sync_follows_highest_output() -> None:
    # An out-of-order packet sent last must not lower the base of the next sync.
    manager = SeqManager(first_output=1)
    assert _outputs(manager, [10, 12, 11]) == [1, 3, 2]
    manager.sync(20)
    assert manager.input(20) == 4


def test_manager_rejects_too_old_input() -> None:
    manager = SeqManager(first_output=1)
    manager.input(0)
    newest = MAX_INPUT_AGE + 10
    assert manager.input(newest) == newest + 1
    assert manager.input(9) is None
    assert manager.input(10) == 11


def test_manager_long_run_with_drops_across_wraps() -> None:
    # Every third input is dropped over three wraps. Outputs stay contiguous.
    manager = SeqManager(first_output=0)
    outputs = []
    for index in range(3 * 65536):
        seq = (1000 + index) & 0xFFFF
        if index % 3 == 2:
            manager.drop(seq)
            continue
        output = manager.input(seq)
        assert output is not None
        outputs.append(output)
    assert outputs == [i & 0xFFFF for i in range(len(outputs))]


def test_manager_drops_folded_keep_mapping() -> None:
    manager = SeqManager(first_output=1)
    manager.input(0)
    manager.drop(1)
    # Advancing past the age limit folds the drop of 1 into the offset.
    far = MAX_INPUT_AGE + 100
    assert manager.input(far) == far
    assert manager.input(far - 1) == far - 1
    assert manager.input(far + 1) == far + 1


def test_manager_eight_bit_counter() -> None:
    # TL0PICIDX rewriting: 8-bit values wrap at 255.
    manager = SeqManager(first_output=254, bits=8)
    assert _outputs(manager, [10, 11]) == [254, 255]
    manager.drop(12)
    assert _outputs(manager, [13, 14]) == [0, 1]
