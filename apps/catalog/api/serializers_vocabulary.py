"""Shapes of the business vocabulary and of metadata edits in the API. Serializers check the
form of input only; every decision is made by ``apps.catalog.vocabulary``."""

from rest_framework import serializers

from apps.catalog.models import MAX_LEVEL, Category, Column, GlossaryTerm, SensitiveType, Table, Tag


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "path", "parent", "description"]
        read_only_fields = fields


class CategoryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    parent = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="Id of the parent category; omit or null for the top level.")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class CategoryUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    parent = serializers.IntegerField(required=False, allow_null=True,
                                      help_text="Move under this category; null moves it to the top level.")
    description = serializers.CharField(required=False, allow_blank=True)


class CategoryTreeNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField()
    description = serializers.CharField()
    table_count = serializers.IntegerField(help_text="Live tables you may see in this category itself.")
    total_table_count = serializers.IntegerField(help_text="Live tables you may see in this category's subtree.")


CategoryTreeNodeSerializer._declared_fields["children"] = CategoryTreeNodeSerializer(many=True)


class GlossaryTermSerializer(serializers.ModelSerializer):
    category = serializers.PrimaryKeyRelatedField(read_only=True)
    category_path = serializers.CharField(source="category.path", read_only=True, default=None)
    synonyms = serializers.ListField(child=serializers.CharField(), read_only=True)
    table_count = serializers.IntegerField(read_only=True, default=0)
    column_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = GlossaryTerm
        fields = ["id", "name", "definition", "synonyms", "category", "category_path", "table_count",
                  "column_count"]
        read_only_fields = fields


class GlossaryTermWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    definition = serializers.CharField(required=False, allow_blank=True)
    category = serializers.IntegerField(required=False, allow_null=True, help_text="Id of a category, or null.")
    synonyms = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)


class TagSerializer(serializers.ModelSerializer):
    table_count = serializers.IntegerField(read_only=True, default=0)
    column_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Tag
        fields = ["id", "name", "table_count", "column_count"]
        read_only_fields = fields


class SensitiveTypeSerializer(serializers.ModelSerializer):
    is_builtin = serializers.BooleanField(read_only=True)

    class Meta:
        model = SensitiveType
        fields = ["id", "code", "name", "category", "default_level", "description", "is_builtin"]
        read_only_fields = fields


class SensitiveTypeCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=63)
    name = serializers.CharField(max_length=100)
    category = serializers.CharField(max_length=63)
    default_level = serializers.IntegerField(min_value=0, max_value=MAX_LEVEL)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class SensitiveTypeUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    category = serializers.CharField(max_length=63, required=False)
    default_level = serializers.IntegerField(min_value=0, max_value=MAX_LEVEL, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class _NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    path = serializers.CharField()


class TableMetadataSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    stewards = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    categories = _CategoryRefSerializer(many=True, read_only=True)
    terms = _NamedSerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Table
        fields = ["id", "schema", "name", "description", "owner", "stewards", "categories", "terms", "tags"]
        read_only_fields = fields


class TableMetadataUpdateSerializer(serializers.Serializer):
    """Each field given replaces what the table has; fields left out stay as they are."""

    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.CharField(required=False, allow_null=True, help_text="Username of a project member, or null.")
    stewards = serializers.ListField(child=serializers.CharField(), required=False, max_length=100,
                                     help_text="Usernames of project members.")
    categories = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=100,
                                       help_text="Category ids.")
    terms = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=100,
                                  help_text="Glossary term ids.")
    tags = serializers.ListField(child=serializers.CharField(max_length=63), required=False, max_length=100,
                                 help_text="Tag names; tags not seen before are created.")


class ColumnMetadataSerializer(serializers.ModelSerializer):
    table = serializers.PrimaryKeyRelatedField(read_only=True)
    terms = _NamedSerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Column
        fields = ["id", "table", "name", "description", "terms", "tags"]
        read_only_fields = fields


class ColumnMetadataUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    terms = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=100,
                                  help_text="Glossary term ids.")
    tags = serializers.ListField(child=serializers.CharField(max_length=63), required=False, max_length=100,
                                 help_text="Tag names; tags not seen before are created.")
