"""Just enough of Caffe's protobuf schema to read weights from a .caffemodel, without Caffe.

The message classes are built at run time from a descriptor (NetParameter, LayerParameter,
V1LayerParameter, BlobProto, BlobShape), with Caffe's field numbers; every other field of a real
caffemodel is kept as an unknown field and ignored.
"""

from __future__ import annotations

from functools import lru_cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _message(file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple]) -> None:
    msg = file.message_type.add(name=name)
    for fname, number, ftype, label, type_name, packed in fields:
        f = msg.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if packed:
            f.options.packed = True


@lru_cache(maxsize=1)
def caffe_messages() -> dict[str, type]:
    """The message classes: NetParameter, LayerParameter, V1LayerParameter, BlobProto, BlobShape."""
    file = descriptor_pb2.FileDescriptorProto(name="fcn_workbench_caffe.proto", package="fcnwb_caffe", syntax="proto2")
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    _message(file, "BlobShape", [("dim", 1, _F.TYPE_INT64, rep, None, True)])
    _message(file, "BlobProto", [
        ("num", 1, _F.TYPE_INT32, opt, None, False),
        ("channels", 2, _F.TYPE_INT32, opt, None, False),
        ("height", 3, _F.TYPE_INT32, opt, None, False),
        ("width", 4, _F.TYPE_INT32, opt, None, False),
        ("data", 5, _F.TYPE_FLOAT, rep, None, True),
        ("shape", 7, _F.TYPE_MESSAGE, opt, ".fcnwb_caffe.BlobShape", False),
        ("double_data", 8, _F.TYPE_DOUBLE, rep, None, True),
    ])
    _message(file, "LayerParameter", [
        ("name", 1, _F.TYPE_STRING, opt, None, False),
        ("type", 2, _F.TYPE_STRING, opt, None, False),
        ("blobs", 7, _F.TYPE_MESSAGE, rep, ".fcnwb_caffe.BlobProto", False),
    ])
    _message(file, "V1LayerParameter", [
        ("name", 4, _F.TYPE_STRING, opt, None, False),
        ("type", 5, _F.TYPE_INT32, opt, None, False),
        ("blobs", 6, _F.TYPE_MESSAGE, rep, ".fcnwb_caffe.BlobProto", False),
    ])
    _message(file, "NetParameter", [
        ("name", 1, _F.TYPE_STRING, opt, None, False),
        ("layers", 2, _F.TYPE_MESSAGE, rep, ".fcnwb_caffe.V1LayerParameter", False),
        ("layer", 100, _F.TYPE_MESSAGE, rep, ".fcnwb_caffe.LayerParameter", False),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"fcnwb_caffe.{m.name}"))
            for m in file.message_type}
