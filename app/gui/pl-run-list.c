/* pl-run-list.c: the runs of the sidebar. */
#include "pl-run-list.h"

struct _PlRunList {
  GObject parent_instance;

  PlRunManager *manager;
  GListStore *items;
  GHashTable *by_id;        /* gint64* -> PlRunItem* (store runs) */
  GHashTable *by_live;      /* PlLiveRun* -> PlRunItem* */
  GHashTable *plugins;      /* gint64* -> char* ("agp, magnitude"; "" for none) */
  guint n_stored;
};

G_DEFINE_FINAL_TYPE (PlRunList, pl_run_list, G_TYPE_OBJECT)

static void
pl_run_list_dispose (GObject *object)
{
  PlRunList *self = PL_RUN_LIST (object);
  g_clear_object (&self->manager);
  g_clear_object (&self->items);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->by_live, g_hash_table_unref);
  g_clear_pointer (&self->plugins, g_hash_table_unref);
  G_OBJECT_CLASS (pl_run_list_parent_class)->dispose (object);
}

static void
pl_run_list_class_init (PlRunListClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = pl_run_list_dispose;
}

static void
pl_run_list_init (PlRunList *self)
{
  self->items = g_list_store_new (PL_TYPE_RUN_ITEM);
  self->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->by_live = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->plugins = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
}

PlRunList *
pl_run_list_new (PlRunManager *manager)
{
  PlRunList *self = g_object_new (PL_TYPE_RUN_LIST, NULL);
  self->manager = manager ? g_object_ref (manager) : NULL;
  return self;
}

GListModel *
pl_run_list_get_model (PlRunList *self)
{
  g_return_val_if_fail (PL_IS_RUN_LIST (self), NULL);
  return G_LIST_MODEL (self->items);
}

/* "id@version" of each plugin the run recorded, comma-separated; cached once
 * the run has started (its plugins are recorded before its first step). */
static const char *
plugins_of (PlRunList       *self,
            PlRunStore      *store,
            const PlRunInfo *info)
{
  const char *cached = g_hash_table_lookup (self->plugins, &info->id);
  if (cached)
    return cached;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = pl_run_store_get_run_plugins (store, info->id, &error);
  if (!list)
    return NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; i < list->len; i++)
    {
      PlRunPlugin *p = g_ptr_array_index (list, i);
      g_string_append_printf (text, "%s%s", text->len ? ", " : "", p->plugin_id);
    }
  if (g_strcmp0 (info->status, "queued") == 0)
    return NULL;
  gint64 *key = g_new (gint64, 1);
  *key = info->id;
  char *value = g_string_free (g_steal_pointer (&text), FALSE);
  g_hash_table_insert (self->plugins, key, value);
  return value;
}

static PlRunItem *
item_for_live (PlRunList *self,
               PlLiveRun *live)
{
  PlRunItem *item = g_hash_table_lookup (self->by_live, live);
  if (!item)
    {
      item = pl_run_item_new_from_live (live);
      g_hash_table_insert (self->by_live, live, item);
    }
  return item;
}

gboolean
pl_run_list_refresh (PlRunList   *self,
                     PlRunStore  *store,
                     GError     **error)
{
  g_return_val_if_fail (PL_IS_RUN_LIST (self), FALSE);

  g_autoptr (GPtrArray) wanted = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GHashTable) by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                        g_object_unref);
  g_autoptr (GHashTable) by_live = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  gboolean ok = TRUE;

  /* session runs the store does not list yet, newest first */
  GListModel *runs = self->manager ? pl_run_manager_get_runs (self->manager) : NULL;
  guint n_live = runs ? g_list_model_get_n_items (runs) : 0;
  for (guint i = n_live; i-- > 0;)
    {
      g_autoptr (PlLiveRun) live = g_list_model_get_item (runs, i);
      if (pl_live_run_get_id (live) > 0)
        continue;
      PlRunItem *item = item_for_live (self, live);
      g_ptr_array_add (wanted, g_object_ref (item));
      g_hash_table_insert (by_live, live, g_object_ref (item));
    }

  g_autoptr (GPtrArray) infos = NULL;
  if (store)
    {
      infos = pl_run_store_list_runs (store, NULL, FALSE, error);
      ok = infos != NULL;
    }
  self->n_stored = infos ? infos->len : 0;
  for (guint i = 0; infos && i < infos->len; i++)
    {
      PlRunInfo *info = g_ptr_array_index (infos, i);
      PlLiveRun *live = self->manager ? pl_run_manager_lookup (self->manager, info->id) : NULL;
      PlRunItem *item = live ? g_hash_table_lookup (self->by_live, live) : NULL;
      if (!item)
        item = g_hash_table_lookup (self->by_id, &info->id);
      if (item)
        {
          g_object_ref (item);
          pl_run_item_update_info (item, info);
        }
      else
        item = pl_run_item_new_from_info (info);
      if (live)
        {
          pl_run_item_set_live (item, live);
          g_hash_table_insert (by_live, live, g_object_ref (item));
        }
      pl_run_item_set_plugins (item, plugins_of (self, store, info));
      gint64 *key = g_new (gint64, 1);
      *key = info->id;
      g_hash_table_insert (by_id, key, g_object_ref (item));
      g_ptr_array_add (wanted, item);
    }

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->by_live, g_hash_table_unref);
  self->by_id = g_steal_pointer (&by_id);
  self->by_live = g_steal_pointer (&by_live);

  /* Replace only the part between the unchanged head and tail of the list, so
   * that the selection of the other rows survives. */
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->items));
  guint w = wanted->len, pre = 0, suf = 0;
  while (pre < n && pre < w)
    {
      g_autoptr (PlRunItem) have = g_list_model_get_item (G_LIST_MODEL (self->items), pre);
      if (have != g_ptr_array_index (wanted, pre))
        break;
      pre++;
    }
  while (suf < n - pre && suf < w - pre)
    {
      g_autoptr (PlRunItem) have = g_list_model_get_item (G_LIST_MODEL (self->items),
                                                          n - 1 - suf);
      if (have != g_ptr_array_index (wanted, w - 1 - suf))
        break;
      suf++;
    }
  if (pre < n || pre < w)
    g_list_store_splice (self->items, pre, n - pre - suf, wanted->pdata + pre, w - pre - suf);
  return ok;
}

PlRunItem *
pl_run_list_lookup (PlRunList *self,
                    gint64     id)
{
  g_return_val_if_fail (PL_IS_RUN_LIST (self), NULL);
  return g_hash_table_lookup (self->by_id, &id);
}

PlRunItem *
pl_run_list_lookup_live (PlRunList *self,
                         PlLiveRun *live)
{
  g_return_val_if_fail (PL_IS_RUN_LIST (self), NULL);
  return g_hash_table_lookup (self->by_live, live);
}

guint
pl_run_list_get_n_stored (PlRunList *self)
{
  g_return_val_if_fail (PL_IS_RUN_LIST (self), 0);
  return self->n_stored;
}
